"""Minimise a call's data per policy: keyed digests always, redacted values only where kept.

Fills the payload fields of a :class:`CallEvent` from raw arguments, results
and errors. Every digest is an HMAC under the digest key
(:class:`producers.privacy.pseudonym.ValueDigester`), kept values' too: a kept value
can have a secret redacted out of it, and a plain digest of the original would
let the rest of the kept text narrow a brute force of that secret. Never
raises on hostile values (see :mod:`producers.privacy.redact`); keeps the event under
``max_event_bytes`` by dropping bodies first (result, then arguments) and
flagging ``truncated``, as Kubernetes audit does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from producers.event.canonical import canonical
from producers.event.model import CallEvent
from producers.privacy.policy import ClassRule
from producers.privacy.pseudonym import ValueDigester
from producers.privacy.redact import Redactor, Walk

_KEY_LIMIT = 128
_HEADROOM = 16_384  # room for the metadata around the bodies


class Minimiser:
    def __init__(self, redactor: Redactor, max_event_bytes: int, digest: ValueDigester) -> None:
        self.redactor = redactor
        self.digest = digest
        self.max_body = max_event_bytes - _HEADROOM
        self._keys: dict[tuple[Any, ...], tuple[str, ...]] = {}

    def arg_keys(self, args: Any) -> tuple[str, ...]:
        if not isinstance(args, Mapping) or not args:
            return ()
        raw = tuple(args)
        found = self._keys.get(raw)
        if found is None:
            walk = Walk()
            found = tuple(self.redactor.text(str(k)[:_KEY_LIMIT], walk) for k in raw)
            if len(self._keys) < 4096:
                self._keys[raw] = found
        return found

    def _body(self, value: Any, keep: bool, walk: Walk) -> tuple[str, str | None, int]:
        """digest, redacted JSON (when kept) and size of the canonical form."""
        digest, data = self.digest, canonical(value)
        cleaned: Any = None
        if data is None:  # not JSON: the digest covers the sanitised form
            cleaned = self.redactor.clean(value, walk)
            data = orjson.dumps(cleaned)
        if not keep:
            return digest(data), None, len(data)
        if cleaned is None:
            cleaned = self.redactor.clean(value, walk)
            if cleaned is value:  # nothing to redact, cut or convert: keep the canonical text
                return digest(data), data.decode(), len(data)
        # Canonical too, so kept values with nothing redacted are exactly what was digested.
        kept = canonical(cleaned) or orjson.dumps(cleaned)
        return digest(data), kept.decode(), len(data)

    def args(self, event: CallEvent, args: Any, rule: ClassRule) -> None:
        walk = Walk()
        event.arg_keys = self.arg_keys(args)
        event.args_digest, event.args_json, _ = self._body(args, rule.keep_values, walk)
        event.redactions, event.truncated = walk.redactions, walk.truncated
        self._bound(event)

    def result(self, event: CallEvent, result: Any, rule: ClassRule) -> int:
        """Digest and (when kept) redacted result; returns the result's size in bytes."""
        walk = Walk()
        event.result_digest, event.result_json, size = self._body(result, rule.keep_results, walk)
        event.redactions += walk.redactions
        event.truncated = event.truncated or walk.truncated
        self._bound(event)
        return size

    def of_value(self, value: Any) -> str:
        """The keyed digest of one value (a changed setting's old or new value)."""
        return self.digest(canonical(value) or repr(type(value)).encode())

    def error_message(self, error: BaseException, event: CallEvent, rule: ClassRule) -> str | None:
        """An error's text follows the class's rule for results (an error of a tool is
        what it gave back): its keyed digest always, the redacted text only where
        results are kept."""
        walk = Walk()
        try:
            text = str(error)
        except Exception:  # a hostile __str__ must not break auditing
            text = f"<unprintable {type(error).__name__}>"
        event.result_digest = self.of_value(text)
        if not rule.keep_results:
            return None
        cleaned = self.redactor.text(text, walk)
        event.redactions += walk.redactions
        event.truncated = event.truncated or walk.truncated
        return cleaned

    def _bound(self, event: CallEvent) -> None:
        args, result = event.args_json, event.result_json
        if 4 * (len(args or "") + len(result or "")) <= self.max_body:
            return  # even all 4-byte UTF-8, it fits: no encode
        if _size(args) + _size(result) <= self.max_body:
            return
        event.truncated = True
        event.result_json = None
        if _size(event.args_json) > self.max_body:
            event.args_json = None


def _size(text: str | None) -> int:
    """UTF-8 size; only long texts pay for the encode."""
    if text is None:
        return 0
    return len(text) if len(text) < 1024 or text.isascii() else len(text.encode("utf-8", "replace"))
