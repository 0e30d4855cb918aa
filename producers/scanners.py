"""Secret and personal-data scanners for free text, in linear time.

Python's ``re`` backtracks, so every pattern here is built so hostile input
cannot make it quadratic: each quantifier is bounded, and patterns that start
with a repeated class are anchored by a look-behind on that class, so a match
can only begin where a run begins. Private-key blocks are found with
``str.find`` instead of a regex. :func:`scrub` on a 1 MB single line runs in
time proportional to its length (tests prove it on adversarial input).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

_KEY_WORDS = r"password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|authorization|cookie"
_PATTERNS: dict[str, str] = {
    "jwt": r"(?<![\w-])eyJ[\w-]{5,4096}\.eyJ[\w-]{2,8192}\.[\w-]{0,4096}",
    "bearer": r"(?i:(?<![\w])bearer\s{1,4})[\w.~+/=-]{8,4096}",
    "api_key": (
        r"(?<![\w-])(?:(?:sk|pk|rk)[-_](?:live|test|proj|ant|api\d\d)?[-_]?[\w-]{16,256}"
        r"|AKIA[0-9A-Z]{16}|gh[pousr]_[A-Za-z0-9]{30,255}|xox[abposr]-[\w-]{10,255}"
        r"|AIza[\w-]{35}|glpat-[\w-]{20,64})"
    ),
    "url_password": r"(?<=[^\s:/@]):[^\s/@:]{1,256}(?=@[\w.-]{1,253})",
    "keyed": (
        rf"(?i:(?<![\w])(?:{_KEY_WORDS})[\"']?\s{{0,3}}[:=]\s{{0,3}}[\"']?)"
        r"[^\s\"',;&]{1,512}"
    ),
    "email": r"(?<![\w.+-])[\w.+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){1,8}",
    "iban": (
        r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?"
        r"(?![A-Za-z0-9])"
    ),
    "card": r"(?<![\d-])(?:\d[ -]?){12,18}\d(?!\d)",
    "ssn": r"(?<![\d-])\d{3}-\d{2}-\d{4}(?![\d-])",
    "nino": r"(?<![A-Za-z0-9])[A-CEGHJ-PR-TW-Z]{2}\d{6}[A-D](?![A-Za-z0-9])",
    "phone": (
        r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{2,4}\)|\d{2,4})[ .-]\d{3,4}[ .-]\d{3,4}(?![\w])"
        r"|(?<![\w+])\+\d{8,15}(?!\d)"
    ),
}
_PRIVATE_KEY_BEGIN = "-----BEGIN "
_PRIVATE_KEY_LABEL = "PRIVATE KEY-----"
_PRIVATE_KEY_END = "-----END "


def luhn_ok(digits: str) -> bool:
    total, double = 0, False
    for ch in reversed(digits):
        d = ord(ch) - 48
        if double:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
        double = not double
    return total % 10 == 0


def iban_ok(text: str) -> bool:
    compact = text.replace(" ", "")
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


_CHECKS: dict[str, Callable[[str], bool]] = {
    "card": lambda m: luhn_ok(m.replace(" ", "").replace("-", "")),
    "iban": iban_ok,
}


class Scanner:
    """One compiled alternation of every pattern; ``extra`` adds the operator's own.

    Extra patterns are the operator's responsibility: they are compiled as
    given, so they must be linear too.
    """

    __slots__ = ("_regex",)

    def __init__(self, extra: Sequence[str] = ()) -> None:
        parts = [f"(?P<{name}>{pattern})" for name, pattern in _PATTERNS.items()]
        parts += [f"(?P<custom{i}>{pattern})" for i, pattern in enumerate(extra)]
        self._regex = re.compile("|".join(parts))

    def scrub(self, text: str) -> tuple[str, int]:
        """``text`` with every finding replaced by ``[REDACTED:kind]``, and how many."""
        count = 0
        if _PRIVATE_KEY_BEGIN in text:
            text, count = _scrub_private_keys(text)

        def replace(match: re.Match[str]) -> str:
            nonlocal count
            kind = match.lastgroup or "secret"
            check = _CHECKS.get(kind)
            if check is not None and not check(match.group()):
                return match.group()
            count += 1
            return f"[REDACTED:{kind}]"

        return self._regex.sub(replace, text), count


def _scrub_private_keys(text: str) -> tuple[str, int]:
    """Cut every BEGIN ... PRIVATE KEY block to its END marker, or to the end of the text."""
    out, count, position = [], 0, 0
    while (start := text.find(_PRIVATE_KEY_BEGIN, position)) >= 0:
        label_end = text.find(_PRIVATE_KEY_LABEL, start, start + 80)
        if label_end < 0:
            out.append(text[position : start + len(_PRIVATE_KEY_BEGIN)])
            position = start + len(_PRIVATE_KEY_BEGIN)
            continue
        end = text.find(_PRIVATE_KEY_END, label_end)
        end = len(text) if end < 0 else text.find("-----", end + len(_PRIVATE_KEY_END))
        end = len(text) if end < 0 else end + 5
        out.append(text[position:start] + "[REDACTED:private_key]")
        count, position = count + 1, end
    out.append(text[position:])
    return "".join(out), count
