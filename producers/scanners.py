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


_API_KEY_PREFIXES = (
    "sk-",
    "sk_",
    "pk_",
    "pk-",
    "rk_",
    "rk-",
    "AKIA",
    "gh",
    "xox",
    "AIza",
    "glpat-",
)
_TWO_DIGITS = re.compile(r"\d\d")
# One C-level search that every family trigger implies (and BEGIN of a private key).
_ANY_TRIGGER = re.compile(
    r"eyJ|earer|EARER|[sprk]k[-_]|AKIA|gh|xox|AIza|glpat-|@|=|:|\d\d|-----BEGIN "
)
# Cheaper than _ANY_TRIGGER (whose alternation re tries at every common letter) and implied
# by it on ASCII text: each alternative there contains one of these characters or words.
_TRIGGER_CHARS = re.compile(r"[J_\-K@=:0-9]")


def quiet_ascii(text: str) -> bool:
    """True if ASCII ``text`` cannot hold anything the scanner finds."""
    return (
        _TRIGGER_CHARS.search(text) is None and "earer" not in text and "EARER" not in text
        and "gh" not in text and "xox" not in text and "AIza" not in text
    )  # fmt: skip


# Families of patterns and the cheap test that must pass before their regex runs: most
# strings in tool arguments (paths, names, prose) trigger none, and cost a few ``in`` checks.
_FAMILIES: tuple[tuple[tuple[str, ...], Callable[[str], bool]], ...] = (
    (("jwt",), lambda s: "eyJ" in s),
    (("bearer",), lambda s: "earer" in s or "EARER" in s),
    (("api_key",), lambda s: any(p in s for p in _API_KEY_PREFIXES)),
    (("url_password", "email"), lambda s: "@" in s),
    (("keyed",), lambda s: "=" in s or ":" in s),
    (("iban", "card", "ssn", "nino", "phone"), lambda s: _TWO_DIGITS.search(s) is not None),
)


def _always(text: str) -> bool:
    return True


class Scanner:
    """Compiled pattern families; ``extra`` adds the operator's own, always run.

    Extra patterns are the operator's responsibility: they are compiled as
    given, so they must be linear too.
    """

    __slots__ = ("_custom", "_families", "quiet")

    def __init__(self, extra: Sequence[str] = ()) -> None:
        families = [(_compile({n: _PATTERNS[n] for n in names}), test) for names, test in _FAMILIES]
        self._custom = None
        if extra:
            self._custom = _compile({f"custom{i}": p for i, p in enumerate(extra)})
            families.append((self._custom, _always))
        self._families = tuple(families)
        # None: every text is scanned, the operator's own patterns have no cheap pre-test.
        self.quiet: Callable[[str], bool] | None = None if self._custom else quiet_ascii

    def scrub(self, text: str) -> tuple[str, int]:
        """``text`` with every finding replaced by ``[REDACTED:kind]``, and how many."""
        if self._custom is None and _ANY_TRIGGER.search(text) is None:
            return text, 0
        triggered = [regex for regex, test in self._families if test(text)]
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

        for regex in triggered:
            text = regex.sub(replace, text)
        return text, count


def _compile(patterns: dict[str, str]) -> re.Pattern[str]:
    return re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in patterns.items()))


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
