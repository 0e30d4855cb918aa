"""Secret and personal-data scanners for free text, in linear time.

One pass of a multi-literal pre-filter (Hyperscan when installed, else
``in`` tests) tells which literals occur: provider token prefixes, the stems of
sensitive key names, ``://``, ``@``, digits. Only the families those literals
imply then run, each found span is recorded on a folded copy of the text (same
offsets; see :mod:`producers.privacy.keynames`), and the spans are replaced at the end.

Python's ``re`` backtracks, so every pattern is built so hostile input cannot
make it quadratic: quantifiers are bounded and possessive, and a pattern starts
with its literal (which ``re`` finds with a fast search) and checks with a
look-behind *after* the literal that the token starts where a run starts.
Measured on 2 KB of prose: a look-behind before the literal costs 260 µs, the
same rule written literal-first 6 µs. Private-key blocks are found with
``str.find``. :meth:`Scanner.scrub` on a 1 MB single line runs in time
proportional to its length (tests prove it on adversarial input).
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import Any

from producers.privacy.keynames import (
    Sensitivity,
    folded_stems,
    key_words,
    looks_secret,
    plain_letters,
    sensitivity,
)
from producers.privacy.secret_formats import RULES, Rule

try:  # the compiled multi-literal engine: ~25x faster than re over 2 KB (docs/benchmarks.md)
    import hyperscan
except ImportError:  # pragma: no cover - every supported install has it; the fallback is tested
    hyperscan = None  # type: ignore[assignment]

Span = tuple[int, int, str]

_PRIVATE_KEY_BEGIN = "-----BEGIN "
_PRIVATE_KEY_LABEL = "PRIVATE KEY"
_PRIVATE_KEY_END = "-----END "
_BOUNDARY = r"[\w-]"  # a token starts where a run of these does not continue


def luhn_ok(digits: str) -> bool:
    total, double = 0, False
    for ch in reversed(digits):
        d = ord(ch) - 48
        if double:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
        double = not double
    return total % 10 == 0


def card_number(digits: str) -> bool:
    """13 to 19 digits with a card network's leading digits and a valid Luhn check digit."""
    return (
        13 <= len(digits) <= 19
        and (digits[0] in "3456" or "2221" <= digits[:4] <= "2720")
        and luhn_ok(digits)
    )


def iban_ok(text: str) -> bool:
    compact = text.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1


def _rule_regex(rule: Rule) -> re.Pattern[str]:
    lit = re.escape(rule.literal)
    if rule.before:
        return re.compile(f"(?<!{_BOUNDARY}){rule.before}{lit}{rule.rest}")
    if rule.literal[0].isalnum():
        return re.compile(f"{lit}(?<!{_BOUNDARY}{lit}){rule.rest}")
    return re.compile(f"{lit}{rule.rest}")


# Kinds whose format alone is loose: the token must also look random (a digit, or both cases).
_LOOSE_KINDS = frozenset({"api_key", "bearer", "gocardless", "notion", "dropbox", "twilio"})

# Literals the pre-filter looks for: (text, caseless). Ids index this tuple.
_STEMS = folded_stems()
_RULE_LITERALS = sorted({r.literal for r in RULES})
_STRUCTURAL = ("://", "@", _PRIVATE_KEY_BEGIN, "-p")
LITERALS: tuple[tuple[str, bool], ...] = (
    *((lit, False) for lit in _RULE_LITERALS),
    *((stem, True) for stem in _STEMS),
    *((lit, False) for lit in _STRUCTURAL),
)
_ID = {lit: i for i, (lit, _) in enumerate(LITERALS)}
_RULES_BY_LITERAL: dict[int, list[tuple[Rule, re.Pattern[str]]]] = {}
for _rule in RULES:
    _RULES_BY_LITERAL.setdefault(_ID[_rule.literal], []).append((_rule, _rule_regex(_rule)))
_STEM_IDS = frozenset(_ID[s] for s in _STEMS)
_URL, _AT, _BEGIN, _DASH_P = (_ID[s] for s in _STRUCTURAL)
# Not literals: what a number family needs before its regex is worth running (each of
# those regexes costs ~50 us per 2 KB in re; Hyperscan answers all three in its one pass).
_HINTS = (
    r"[+(0-9][0-9]([ .()\-]{0,2}[0-9]){5}",  # 7 digits, maybe grouped: card, phone, SSN
    r"[A-Za-z]{2}[0-9]{2} ?[A-Za-z0-9]{4}",  # IBAN
    r"[A-Za-z]{2}[0-9]{6}[A-Da-d]",  # UK NINO
)
_NUMBER_ID, _IBAN_ID, _NINO_ID = range(len(LITERALS), len(LITERALS) + len(_HINTS))
_HINT_RES = tuple(re.compile(h) for h in _HINTS)


class _Prefilter:
    """Which literals (and whether a digit) occur in a text: one Hyperscan pass or ``in`` tests."""

    def __init__(self, use_hyperscan: bool) -> None:
        self._db: Any = None
        self._local = threading.local()  # Hyperscan scratch space is per thread
        if use_hyperscan and hyperscan is not None:
            flags = [
                hyperscan.HS_FLAG_SINGLEMATCH | (hyperscan.HS_FLAG_CASELESS if caseless else 0)
                for _, caseless in LITERALS
            ]
            expressions = [re.escape(lit).encode("utf-8") for lit, _ in LITERALS]
            hints = [h.encode() for h in _HINTS]
            self._db = hyperscan.Database()
            self._db.compile(
                expressions=[*expressions, *hints],
                ids=list(range(len(LITERALS) + len(hints))),
                elements=len(LITERALS) + len(hints),
                flags=[*flags, *[hyperscan.HS_FLAG_SINGLEMATCH] * len(hints)],
            )
            self._scratch = hyperscan.Scratch(self._db)

    @property
    def compiled(self) -> bool:
        return self._db is not None

    def present(self, text: str) -> set[int]:
        if self._db is None:
            return self._present_by_search(text)
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._scratch.clone()
        found: set[int] = set()
        data = text.encode("utf-8", "surrogatepass")
        self._db.scan(data, match_event_handler=_collect, context=found, scratch=scratch)
        if not text.isascii():  # caseless matching in Hyperscan is ASCII only
            lowered = text.lower().encode("utf-8", "surrogatepass")
            self._db.scan(lowered, match_event_handler=_collect, context=found, scratch=scratch)
        return found

    @staticmethod
    def _present_by_search(text: str) -> set[int]:
        low = text.lower()
        found = {
            i for i, (lit, caseless) in enumerate(LITERALS) if lit in (low if caseless else text)
        }
        found.update(
            i
            for i, hint in zip(range(_NUMBER_ID, _NINO_ID + 1), _HINT_RES, strict=True)
            if hint.search(text) is not None
        )
        return found


@lru_cache(maxsize=2)
def _prefilter(use_hyperscan: bool) -> _Prefilter:
    """One compiled pre-filter per process: compiling the database takes ~50 ms."""
    return _Prefilter(use_hyperscan)


def _collect(ident: int, start: int, end: int, flags: int, found: set[int]) -> None:
    found.add(ident)


class Scanner:
    """Compiled pattern families; ``extra`` adds the operator's own, always run.

    Extra patterns are the operator's responsibility: they are compiled as
    given, so they must be linear too. A Scanner is immutable and thread-safe.
    """

    __slots__ = ("_custom", "_prefilter", "_quiet_cache", "quiet")

    def __init__(self, extra: Sequence[str] = (), *, use_hyperscan: bool = True) -> None:
        self._prefilter = _prefilter(use_hyperscan)
        self._custom = re.compile("|".join(f"(?:{p})" for p in extra)) if extra else None
        self._quiet_cache: dict[str, bool] = {}
        # None: every text is scanned, the operator's own patterns have no cheap pre-test.
        self.quiet: Callable[[str], bool] | None = None if self._custom else self._quiet

    @property
    def compiled(self) -> bool:
        """Whether the pre-filter runs on Hyperscan."""
        return self._prefilter.compiled

    def _quiet(self, text: str) -> bool:
        """True if ASCII ``text`` cannot hold anything the scanner finds (cached: short
        argument values such as paths and names repeat from call to call)."""
        verdict = self._quiet_cache.get(text)
        if verdict is None:
            # A \uXXXX escape can spell a key name the pre-filter only sees once decoded.
            verdict = "\\u" not in text and not self._prefilter.present(text)
            if len(text) <= 256 and len(self._quiet_cache) < 4096:
                self._quiet_cache[text] = verdict
        return verdict

    def scrub(self, text: str) -> tuple[str, int]:
        """``text`` with every finding replaced by ``[REDACTED:kind]``, and how many."""
        spans = self.findings(text)
        if not spans:
            return text, 0
        out, position = [], 0
        for start, end, kind in spans:
            out.append(text[position:start])
            out.append(f"[REDACTED:{kind}]")
            position = end
        out.append(text[position:])
        return "".join(out), len(spans)

    def findings(self, text: str) -> list[Span]:
        """Merged, sorted spans of ``text`` that hold a secret or personal data."""
        folded, starts, ends = plain_letters(text)
        present = self._prefilter.present(folded)
        spans: list[Span] = []
        if present:
            for ident in present:
                rules = _RULES_BY_LITERAL.get(ident)
                if rules:
                    spans += _rule_spans(folded, rules)
            if not present.isdisjoint(_STEM_IDS):
                spans += _keyed_spans(folded, present)
            userinfo: list[Span] = []
            if _URL in present:
                userinfo = list(_url_password_spans(folded))
                spans += userinfo
            if _AT in present:  # the host after a URL's password is no e-mail domain
                spans += _email_spans(folded, {end for _, end, _ in userinfo})
            if _NUMBER_ID in present:
                spans += _number_spans(folded)
            if _IBAN_ID in present:
                spans += _iban_spans(folded)
            if _NINO_ID in present:
                spans += _nino_spans(folded)
            if _DASH_P in present and ("-u" in text or "mysql" in text):
                spans += _mysql_password_spans(folded)
            if any(kind == "aws_access_key_id" for _, _, kind in spans):
                spans += _aws_secret_spans(folded)
            if starts is not None and ends is not None:  # back to the offsets of text
                spans = [(starts[s], ends[e - 1], kind) for s, e, kind in spans if e > s]
            if _BEGIN in present:
                spans += _private_key_spans(text)
        if self._custom is not None:
            spans += [
                (m.start(), m.end(), "custom")
                for m in self._custom.finditer(text)
                if m.end() > m.start()
            ]
        return _merge(spans)


def _merge(spans: list[Span]) -> list[Span]:
    if len(spans) < 2:
        return spans
    spans.sort()
    merged = [spans[0]]
    for start, end, kind in spans[1:]:
        last = merged[-1]
        if start < last[1]:
            if end > last[1]:
                merged[-1] = (last[0], end, last[2])
        else:
            merged.append((start, end, kind))
    return merged


def _random_enough(token: str) -> bool:
    digits = any(c.isdigit() for c in token)
    return digits or (any(c.isupper() for c in token) and any(c.islower() for c in token))


def _rule_spans(text: str, rules: list[tuple[Rule, re.Pattern[str]]]) -> Iterator[Span]:
    for rule, regex in rules:
        for match in regex.finditer(text):
            token = match.group()
            if rule.kind in _LOOSE_KINDS and not _random_enough(token[len(rule.literal) :]):
                continue
            if rule.kind == "basic_auth" and not _basic_credentials(token):
                continue
            start = match.start()
            if rule.kind in ("bearer", "basic_auth"):  # keep the scheme word, cut the credential
                start += len(rule.literal)
                start += len(token[len(rule.literal) :]) - len(token[len(rule.literal) :].lstrip())
            yield start, match.end(), rule.kind


def _basic_credentials(token: str) -> bool:
    encoded = token.split()[-1]
    try:
        decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    return b":" in decoded and decoded.isascii() and decoded.decode().isprintable()


# ---- key = value in any syntax ------------------------------------------------------------

_KEY_RUN = re.compile(r"[\w.\-]{0,64}+")
_KEY_RUN_BACK = re.compile(r"[\w.\-]{0,64}+")  # matched on the reversed text before a stem
_AFTER_KEY = re.compile(
    r"(?P<close>(?:\\{0,3}[\"'`])?)\]?[ \t]{0,8}+"
    r"(?:(?P<op>=>|->|:=|==|=|:)|(?P<word>is|was|ist|est|es|equals|era)(?=[ \t])|(?P<comma>,)"
    r"|(?P<gt>>))?[ \t]{0,8}+"
)
_OPEN_QUOTE = re.compile(r"(\\{0,3})([\"'`])")
_BARE_VALUE = re.compile(r"[^\s\"'`,;&<>{}\\]{1,512}+")
_LINE_VALUE = re.compile(r"[^\r\n\"'\\]{1,2048}+")
_WORD_VALUE = re.compile(r"[^\s,;\"'`]{1,256}+")
_XML_VALUE = re.compile(r"[^<]{1,1024}+")
_INDIRECT = re.compile(r"[A-Za-z_$][\w.$]*[(\[]|\$\{?[\w.]+\}?$|%\w+%$|\{\{")
_PLACEHOLDERS = frozenset(
    [
        "null",
        "none",
        "nil",
        "true",
        "false",
        "undefined",
        "empty",
        "n/a",
        "na",
        "redacted",
        "hidden",
        "masked",
        "...",
        "***",
        "xxx",
    ]
)
# After "password is": words that describe the password rather than being it.
_PROSE_WORDS = frozenset(
    [
        "required",
        "invalid",
        "incorrect",
        "wrong",
        "missing",
        "expired",
        "empty",
        "too",
        "not",
        "set",
        "correct",
        "valid",
        "a",
        "an",
        "the",
        "being",
        "null",
        "none",
        "blank",
        "mandatory",
        "weak",
        "strong",
        "ok",
        "okay",
        "changed",
        "reset",
        "needed",
        "unknown",
        "stored",
        "hidden",
        "redacted",
        "optional",
        "present",
        "absent",
        "supplied",
        "provided",
        "given",
        "that",
        "this",
        "used",
        "saved",
        "encrypted",
        "hashed",
        "shown",
        "sent",
        "ignored",
        "accepted",
        "rejected",
        "same",
        "different",
        "case",
        "long",
        "short",
        "only",
        "also",
        "still",
        "now",
        "never",
        "always",
        "in",
        "on",
        "at",
        "of",
        "for",
        "to",
        "from",
        "by",
        "with",
    ]
)
_HEADER_WORDS = frozenset({"authorization", "authorisation", "cookie", "cookies", "set"})


def _keyed_spans(text: str, present: set[int]) -> list[Span]:
    low = text.lower()
    if len(low) != len(text):  # a few characters lower-case to two: keep offsets exact
        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    spans: list[Span] = []
    seen_until = -1
    for stem_id in present & _STEM_IDS:
        stem = LITERALS[stem_id][0]
        position = low.find(stem)
        while position >= 0:
            end = position + len(stem)
            if position >= seen_until:
                found = _key_at(text, position, end)
                if found is not None:
                    key_end, span = found
                    seen_until = max(seen_until, key_end)
                    if span is not None:
                        spans.append(span)
                        seen_until = max(seen_until, span[1])  # a stem inside is redacted anyway
            position = low.find(stem, end)
        seen_until = -1
    return spans


def _key_at(text: str, stem_start: int, stem_end: int) -> tuple[int, Span | None] | None:
    back = _KEY_RUN_BACK.match(text[max(0, stem_start - 64) : stem_start][::-1])
    start = stem_start - (back.end() if back else 0)
    forward = _KEY_RUN.match(text, stem_end)
    end = forward.end() if forward else stem_end
    while end > stem_end and text[end - 1] in ".-":
        end -= 1
    key = text[start:end]
    verdict = sensitivity(key)
    if verdict is Sensitivity.NONE:
        return end, None
    before = text[start - 1] if start else ""
    if verdict is Sensitivity.WEAK and before in "?&;":
        verdict = Sensitivity.STRONG  # a URL query parameter: ?key=, &sig=
    if key.upper() in ("PWD", "OLDPWD") and text.startswith("/", end + 1):
        return end, None  # the shell's working directory, not a password
    return end, _value_span(text, start, end, key, verdict, before)


def _value_span(
    text: str, key_start: int, key_end: int, key: str, verdict: Sensitivity, before: str
) -> Span | None:
    after = _AFTER_KEY.match(text, key_end)
    if after is None:
        return None
    at = after.end()
    flag = key.startswith("-")
    if after["word"]:
        value = _WORD_VALUE.match(text, at)
        if value is None:
            return None
        token = value.group().rstrip(".!?)")
        if token.lower() in _PROSE_WORDS or token.lower() in _PLACEHOLDERS:
            return None
        return _judged(at, at + len(token), token, verdict)
    if after["gt"]:
        if before != "<":
            return None
        value = _XML_VALUE.match(text, at)
        return _judged(at, value.end(), value.group(), verdict) if value else None
    if not (after["op"] or after["comma"]):
        # No operator: only a command-line flag (--password x) or Dockerfile ENV takes a space.
        spaced = at > key_end + len(after["close"])
        if not spaced or not (flag or text[max(0, key_start - 4) : key_start] == "ENV "):
            return None
    quote = _OPEN_QUOTE.match(text, at)
    if quote is not None:
        # ("password", "x") is a pair only if "x" looks like a secret: lists of field names.
        weak = Sensitivity.WEAK if after["comma"] else verdict
        return _quoted(text, at, quote, weak)
    if after["comma"]:
        return None  # a list of names ("password", "user"), not a pair
    if flag and text.startswith("-", at):
        return None  # the next flag
    words = key_words(key)
    line = any(w in _HEADER_WORDS for w in words) and (after["op"] == ":" or after["op"] == "=")
    value = (_LINE_VALUE if line else _BARE_VALUE).match(text, at)
    if value is None:
        return None
    token = value.group().rstrip() if line else value.group()
    if _INDIRECT.match(token) is not None:
        return None  # password = get_secret(...), ${DB_PASSWORD}: a reference, not the value
    return _judged(at, at + len(token), token, verdict)


def _quoted(text: str, at: int, quote: re.Match[str], verdict: Sensitivity) -> Span | None:
    """The body of a quoted value, up to its closing quote (escaped quotes skipped)."""
    closing = quote.group()
    body = quote.end()
    limit = min(len(text), body + 2048)
    position = text.find(closing, body, limit)
    while position > body and not quote.group(1) and text[position - 1] == "\\":
        position = text.find(closing, position + 1, limit)  # an escaped quote inside
    if position < 0:
        position = limit
    token = text[body:position]
    if not token or _INDIRECT.match(token) is not None:
        return None
    return _judged(body, position, token, verdict)


def _judged(start: int, end: int, token: str, verdict: Sensitivity) -> Span | None:
    if end <= start or token.startswith("[REDACTED") or token.lower() in _PLACEHOLDERS:
        return None
    if token.startswith("<") and token.endswith(">"):
        return None  # <password>: a placeholder in docs and help texts
    if verdict is Sensitivity.WEAK and not looks_secret(token):
        return None
    return start, end, "keyed"


_MYSQL_P = re.compile(r"-p(?<!\S-p)([^\s\-'\"][^\s'\"]{0,255}+|'[^']{1,255}'|\"[^\"]{1,255}\")")


def _mysql_password_spans(text: str) -> Iterator[Span]:
    """``mysql -u root -psecret``: the password glued to ``-p``."""
    for match in _MYSQL_P.finditer(text):
        yield match.start(1), match.end(1), "keyed"


# ---- URLs, e-mail addresses, numbers -----------------------------------------------------

# A password may hold a "#" its writer did not percent-encode: "u:p#ss@host" is still userinfo.
_USERINFO = re.compile(r"://[^\s/?#@:]{0,256}+:([^\s/?]{1,256})@(?=[\w\[])")


def _url_password_spans(text: str) -> Iterator[Span]:
    """The password of ``scheme://user:password@host`` for any scheme (redis://:pw@host too)."""
    for match in _USERINFO.finditer(text):
        yield match.start(1), match.end(1), "url_password"


_EMAIL_DOMAIN = re.compile(r"@(?<=[\w.+\-]@)[A-Za-z0-9\-]{1,63}+(?:\.[A-Za-z0-9\-]{1,63}+){1,8}+")
_LOCAL_BACK = re.compile(r"[\w.+\-]{1,64}+")


def _email_spans(text: str, userinfo_ends: set[int]) -> Iterator[Span]:
    for match in _EMAIL_DOMAIN.finditer(text):
        at = match.start()
        if at in userinfo_ends:
            continue
        local = _LOCAL_BACK.match(text[max(0, at - 64) : at][::-1])
        if local is None or not any(c.isalpha() for c in match.group()):
            continue
        start = at - local.end()
        if text.endswith("://", 0, start):
            continue  # scheme://user@host: a URL's user and host
        yield start, match.end(), "email"


_NUMBER = re.compile(r"[+(]?\d(?:[ .()\-]{0,2}+\d){6,63}+")
_CARD_RUN = re.compile(r"\d+(?:[ \-]\d+)*")
_SSN = re.compile(r"(?!000|666|9)\d{3}-(?!00)\d{2}-(?!0000)\d{4}")
_PHONE = re.compile(
    r"\+\d[\d .()\-]{6,20}"
    r"|(?:1[ .\-]?)?\(\d{3}\)[ .\-]?\d{3}[ .\-]?\d{4}"
    r"|(?:1[ .\-])?\d{3}[ .\-]\d{3}[ .\-]\d{4}"
    r"|0\d{2,4} \d{3,4} \d{3,4}"
)
_IBAN = re.compile(
    r"\d\d(?<=[A-Za-z]{2}\d\d)(?<![\w]{3}\d\d)(?: ?[A-Za-z0-9]{4}){2,7}+(?: ?[A-Za-z0-9]{1,3})?"
)
_NINO = re.compile(r"\d{6}(?<=[A-Za-z]{2}\d{6})(?<![\w]{3}\d{6})[A-Da-d](?![A-Za-z0-9])")
_NINO_PREFIX = re.compile(r"[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]", re.IGNORECASE)


def _number_spans(text: str) -> Iterator[Span]:
    for match in _NUMBER.finditer(text):
        start, end = match.span()
        if start and (text[start - 1].isalnum() or text[start - 1] in "_.-"):
            continue  # inside a token (a hash, an id, a version)
        if end < len(text) and (text[end].isalnum() or text[end] == "_"):
            continue
        found = _classify_number(match.group())
        if found is not None:
            yield start + found[0], start + found[1], found[2]


def _iban_spans(text: str) -> Iterator[Span]:
    for match in _IBAN.finditer(text):
        start, end = match.start() - 2, match.end()
        if (end == len(text) or not text[end].isalnum()) and iban_ok(text[start:end]):
            yield start, end, "iban"


def _nino_spans(text: str) -> Iterator[Span]:
    for match in _NINO.finditer(text):
        if _NINO_PREFIX.fullmatch(text[match.start() - 2 : match.start()]):
            yield match.start() - 2, match.end(), "nino"


_ITIN = re.compile(r"9\d{2}-(?:5\d|6[0-5]|7\d|8[0-8]|9[0-24-9])-\d{4}")


def _classify_number(candidate: str) -> Span | None:
    if _SSN.fullmatch(candidate):
        return 0, len(candidate), "ssn"
    if _ITIN.fullmatch(candidate):
        return 0, len(candidate), "itin"
    for run in _CARD_RUN.finditer(candidate):
        found = _card_in(run.group())
        if found is not None:
            return run.start() + found[0], run.start() + found[1], "card"
    phone = _PHONE.search(candidate)
    if phone is not None and not _date_like(candidate):
        digits = sum(c.isdigit() for c in phone.group())
        if 8 <= digits <= 15:
            return phone.start(), phone.end(), "phone"
    return None


def _card_in(run: str) -> tuple[int, int] | None:
    """The first group-aligned window of 13-19 digits that is a card number: groups as
    cards print them (a first group of 4 or more digits, then groups of 3 or more)."""
    groups = run.replace("-", " ").split(" ")
    if len(groups) == 1:
        return (0, len(run)) if card_number(run) else None
    offsets, position = [], 0
    for group in groups:
        offsets.append(position)
        position += len(group) + 1
    for first in range(len(groups)):
        if len(groups[first]) < 4:
            continue
        digits = ""
        for last in range(first, len(groups)):
            if last > first and len(groups[last - 1]) < 3:
                break
            digits += groups[last]
            if len(digits) > 19:
                break
            if len(digits) >= 13 and card_number(digits):
                return offsets[first], offsets[last] + len(groups[last])
    return None


def _date_like(candidate: str) -> bool:
    head = candidate[:4]
    return head.isdigit() and head[:2] in ("19", "20") and candidate[4:5] in ("-", ".", " ")


_AWS_SECRET = re.compile(r"[A-Za-z0-9/+]{40,}+")


def _aws_secret_spans(text: str) -> Iterator[Span]:
    """A 40-character secret access key in the same text as an access key id."""
    for match in _AWS_SECRET.finditer(text):
        if len(match.group()) == 40 and looks_secret(match.group()):
            yield match.start(), match.end(), "aws_secret_access_key"


# ---- private key blocks ---------------------------------------------------------------------


def _private_key_spans(text: str) -> list[Span]:
    """Every BEGIN ... PRIVATE KEY (BLOCK) to its END marker, or to the end of the text."""
    spans: list[Span] = []
    position = 0
    while (start := text.find(_PRIVATE_KEY_BEGIN, position)) >= 0:
        label_end = text.find(_PRIVATE_KEY_LABEL, start, start + 80)
        if label_end < 0:
            position = start + len(_PRIVATE_KEY_BEGIN)
            continue
        end = text.find(_PRIVATE_KEY_END, label_end)
        end = len(text) if end < 0 else text.find("-----", end + len(_PRIVATE_KEY_END))
        end = len(text) if end < 0 else end + 5
        spans.append((start, end, "private_key"))
        position = end
    return spans
