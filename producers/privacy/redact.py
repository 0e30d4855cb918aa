"""Turn any Python value into bounded, redacted, JSON-safe data.

:meth:`Redactor.clean` walks arguments, results and error text the way a
hostile caller might shape them (deep nesting, cycles, huge strings, bytes,
invalid UTF-8, objects that are not JSON) and never raises on them: values under
sensitive keys are replaced whole, strings pass the :class:`Scanner`, long
strings are cut with a marker holding the original's SHA-256, depth and
collection sizes are capped, cycles become ``"<cycle>"`` and anything else
becomes its type name. A Redactor is immutable and thread-safe.

Key names are judged by :func:`producers.privacy.keynames.sensitivity` (one rule for
dict keys and keys in text). A secret can also be given as a pair: a mapping
``{"name": "DB_PASSWORD", "value": "..."}`` (Kubernetes env, HAR headers) or a
list ``["--password", "..."]``; the value of such a pair is redacted too, and an
integer that is a card number is.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from itertools import islice
from typing import Any

from producers.privacy.keynames import Sensitivity, looks_secret, sensitivity
from producers.privacy.scanners import Scanner, card_number

_SCAN_MARGIN = 1024  # longer than any bounded pattern, so a secret across the cut is still found
_JSON_SCALARS = (bool, float, type(None))
_INT64 = (-(2**63), 2**64)
_CARD_MIN = 10**12  # smaller integers cannot be card numbers: kept without a check
# {"name": "DB_PASSWORD", "value": "..."}: keys that name a pair, and the keys of its value.
PAIR_NAMES = frozenset(
    {
        "name",
        "key",
        "field",
        "header",
        "param",
        "parameter",
        "variable",
        "var",
        "env",
        "flag",
        "option",
        "arg",
        "id",
        "label",
    }
)
PAIR_VALUES = frozenset({"value", "val", "data", "content", "text", "secret", "default"})


class Walk:
    """Counters for one clean-up: how many values were redacted, whether anything was cut."""

    __slots__ = ("redactions", "truncated")

    def __init__(self) -> None:
        self.redactions = 0
        self.truncated = False


class Redactor:
    __slots__ = (
        "_clean_keys",
        "_fields",
        "_plain_keys",
        "max_depth",
        "max_field",
        "max_items",
        "max_string",
        "scanner",
    )

    def __init__(
        self,
        *,
        max_string: int = 2048,
        max_depth: int = 8,
        max_items: int = 256,
        max_field: int = 8192,
        extra_patterns: Sequence[str] = (),
        use_hyperscan: bool = True,
    ) -> None:
        self.max_string = max_string
        self.max_depth = max_depth
        self.max_items = max_items
        self.max_field = max_field
        self._fields: dict[str, tuple[str, int]] = {}  # field value -> (cleaned, redactions)
        self._clean_keys: set[str] = set()
        self._plain_keys: set[str] = set()  # clean and not sensitive: kept as they are
        self.scanner = Scanner(extra_patterns, use_hyperscan=use_hyperscan)

    @staticmethod
    def sensitive(key: str) -> Sensitivity:
        return sensitivity(key)

    def text(self, value: str, walk: Walk) -> str:
        """A scanned, length-bounded copy of ``value`` (time bounded by ``max_string``)."""
        if self._as_is(value):
            return value
        head = (
            value
            if len(value) <= self.max_string + _SCAN_MARGIN
            else value[: self.max_string + _SCAN_MARGIN]
        )
        if not head.isascii():
            head = head.encode("utf-8", "replace").decode("utf-8")
        if len(head) > 5:
            head, found = self.scanner.scrub(head)
            walk.redactions += found
        if len(value) <= self.max_string and len(head) <= self.max_string:
            return head
        walk.truncated = True
        digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
        return f"{head[: self.max_string]}...[truncated {len(value)} chars, sha256 {digest}]"

    def field(self, value: str, walk: Walk) -> str:
        """A name, version, URI or label of an event, scanned whole and not cut when it fits
        ``max_field`` (longer ones are cut as :meth:`text` cuts). Such values repeat from
        call to call (tool and client names), so the outcome is cached by the string."""
        found = self._fields.get(value)
        if found is None:
            if len(value) > self.max_field:
                counted = Walk()
                found = self.text(value, counted), counted.redactions
                walk.truncated = True
            elif len(value) <= 5 or (value.isascii() and self._as_is(value)):
                found = value, 0
            else:
                found = self.scanner.scrub(value)
            if len(value) <= 1024 and len(self._fields) < 4096:
                self._fields[value] = found
        walk.redactions += found[1]
        return found[0]

    def _as_is(self, value: str) -> bool:
        """Whether :meth:`text` keeps ``value`` unchanged because it cannot find anything:
        most argument strings (paths, names, ids) are short ASCII with no trigger."""
        if len(value) > self.max_string or not value.isascii():
            return False
        quiet = self.scanner.quiet
        return len(value) <= 5 or (quiet is not None and quiet(value))

    def clean(self, value: Any, walk: Walk) -> Any:
        if type(value) is dict and self._untouched(value):
            return value  # nothing to redact, cut or convert: the walk would copy it as is
        return self._value(value, walk, 0, set())

    def _untouched(self, value: dict[Any, Any]) -> bool:
        """Whether a dict is flat tool arguments the walk would leave unchanged: known
        plain keys, and short quiet ASCII strings, in-range ints, bools, floats or None."""
        if len(value) > self.max_items or _pair_secret(value):
            return False
        plain = self._plain_keys
        for key, item in value.items():
            if type(key) is not str or key not in plain:
                return False
            kind = type(item)
            if kind is str:
                if not self._as_is(item):
                    return False
            elif kind is int:
                if not _INT64[0] <= item < _INT64[1]:
                    return False
            elif kind is not bool and kind is not float and item is not None:
                return False
        return True

    def _value(self, value: Any, walk: Walk, depth: int, path: set[int]) -> Any:
        kind = type(value)
        if kind is str:
            return self.text(value, walk)
        if kind is int:
            return self._integer(value, walk)
        if kind is dict or kind is list:  # before the isinstance chain: ABC checks are slow
            return self._container(value, walk, depth, path)
        if isinstance(value, _JSON_SCALARS):
            return value
        if isinstance(value, (bytes, bytearray, memoryview)):
            data = bytes(value)
            return f"<bytes {len(data)}, sha256 {hashlib.sha256(data).hexdigest()}>"
        if isinstance(value, (Mapping, list, tuple, set, frozenset)):
            return self._container(value, walk, depth, path)
        return f"<{kind.__name__}>"

    @staticmethod
    def _integer(value: int, walk: Walk) -> int | str:
        if -_CARD_MIN < value < _CARD_MIN:
            return value
        if card_number(str(abs(value))):
            walk.redactions += 1
            return "[REDACTED:card]"
        return value if _INT64[0] <= value < _INT64[1] else str(value)

    def _container(self, value: Any, walk: Walk, depth: int, path: set[int]) -> Any:
        if id(value) in path:
            walk.truncated = True
            return "<cycle>"
        if depth >= self.max_depth:
            walk.truncated = True
            return f"<{type(value).__name__} deeper than {self.max_depth}>"
        path.add(id(value))
        try:
            if type(value) is dict or (type(value) is not list and isinstance(value, Mapping)):
                return self._mapping(value, walk, depth + 1, path)
            return self._sequence(value, walk, depth + 1, path)
        finally:
            path.discard(id(value))

    def _mapping(self, value: Mapping[Any, Any], walk: Walk, depth: int, path: set[int]) -> Any:
        out: dict[str, Any] = {}
        plain = self._plain_keys
        items: Iterable[tuple[Any, Any]] = value.items()
        over = len(value) - self.max_items
        if over > 0:
            items = islice(items, self.max_items)
        paired = _pair_secret(value)
        for key, item in items:
            if paired and key in PAIR_VALUES:
                walk.redactions += 1
                out[key] = "[REDACTED:key]"
                continue
            if type(key) is str and key in plain:
                name = key
            else:
                name = self._key(key, walk)
                verdict = sensitivity(name)
                if verdict is Sensitivity.STRONG or (
                    verdict is Sensitivity.WEAK and type(item) is str and looks_secret(item)
                ):
                    walk.redactions += 1
                    out[name] = "[REDACTED:key]"
                    continue
                if (
                    verdict is Sensitivity.NONE
                    and name is key
                    and key in self._clean_keys
                    and len(plain) < 4096
                ):
                    plain.add(key)  # clean and not sensitive: next time, one set lookup
            kind = type(item)
            if kind is str:
                out[name] = self.text(item, walk)
            elif kind is int and -_CARD_MIN < item < _CARD_MIN:
                out[name] = item
            else:
                out[name] = self._value(item, walk, depth, path)
        if over > 0:
            walk.truncated = True
            out["..."] = f"{over} more"
        return out

    def _key(self, key: Any, walk: Walk) -> str:
        """A mapping key, scanned like any text; keys found clean are remembered (they repeat)."""
        if type(key) is str and key in self._clean_keys:
            return key
        text = key if type(key) is str else str(_bounded_key(key))
        before = walk.redactions, walk.truncated
        name = self.text(text, walk)
        if (
            (walk.redactions, walk.truncated) == before
            and name is key
            and len(self._clean_keys) < 4096
        ):
            self._clean_keys.add(key)
        return name

    def _sequence(self, value: Any, walk: Walk, depth: int, path: set[int]) -> list[Any]:
        out: list[Any] = []
        secret_next = argv = False
        pair = len(value) == 2 if isinstance(value, (list, tuple)) else False
        for index, item in enumerate(value):
            if index >= self.max_items:
                walk.truncated = True
                out.append(f"... {len(value) - index} more")
                break
            if secret_next and not (type(item) is str and _names_field(item, argv)):
                walk.redactions += 1
                out.append("[REDACTED:key]")
                secret_next = False
                continue
            argv = type(item) is str and item.startswith("-")
            secret_next = type(item) is str and _names_secret(item, pair or argv)
            out.append(self._value(item, walk, depth, path))
        return out


def _pair_secret(value: Any) -> bool:
    """Whether a mapping is a name/value pair whose name announces a secret."""
    if type(value) is not dict or len(value) > 8:
        return False
    keys = value.keys()
    if keys.isdisjoint(PAIR_VALUES) or keys.isdisjoint(PAIR_NAMES):
        return False  # the usual case: two set operations in C
    for name in PAIR_NAMES & keys:
        item = value[name]
        if type(item) is str and len(item) <= 128 and sensitivity(item) is Sensitivity.STRONG:
            return True
    return False


def _names_secret(item: str, argv: bool) -> bool:
    """Whether a list item is the name half of a pair: ``["--password", x]``, ``("pw", x)``."""
    return argv and 1 < len(item) <= 64 and sensitivity(item) is Sensitivity.STRONG


_FIELD_NAME = re.compile(r"[a-z_]{1,32}")


def _names_field(item: str, after_flag: bool) -> bool:
    """Whether the item after a secret's name is not its value: the next flag, or (in a
    two-item list such as ``["password", "email"]``) another lower-case field name."""
    return item.startswith("-") or (not after_flag and _FIELD_NAME.fullmatch(item) is not None)


def _bounded_key(key: Any) -> str:
    if isinstance(key, (str, int, float, bool, type(None))):
        return str(key)
    return f"<{type(key).__name__}>"
