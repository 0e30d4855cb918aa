# ruff: noqa: RUF001, RUF002 - look-alike letters are this module's subject
"""Which key names announce a secret: one normalisation for dict keys and keys in text.

A key name is folded before it is judged, so spelling cannot hide it: Unicode
compatibility forms (fullwidth ``ｐａｓｓｗｏｒｄ``, mathematical letters) become
their plain letters, look-alike Cyrillic and Greek letters become the Latin ones
they imitate, invisible characters (zero-width, bidi controls, soft hyphen) are
removed, accents are dropped, and the name is split into words at separators
and camel-case humps (``DB_PASSWORD``, ``privateKey``, ``private-key`` and
``PRIVATEKEY`` are all the words of one secret). The words are then judged:

- ``STRONG``: a value under it is a secret whatever it looks like (``password``,
  ``pwd``, ``passphrase``, ``client_secret``, ``auth``, ``sessionKey``,
  ``Passwort``, ``contraseña``, ``пароль``...);
- ``WEAK``: a value under it is a secret only if it looks like one (a long
  high-entropy token): ``key``, ``token_url``, ``secret_name``;
- ``NONE``: counts and settings about secrets (``max_tokens``, ``password_min_length``).
"""

from __future__ import annotations

import math
import re
import unicodedata
from enum import IntEnum
from functools import lru_cache

INVISIBLE = (
    "\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b\u180c\u180d\u180e\u200b\u200c\u200d"
    "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2061\u2062\u2063\u2064\u2066\u2067"
    "\u2068\u2069\u206a\u206b\u206c\u206d\u206e\u206f\u3164\ufe00\ufe01\ufe0e\ufe0f\ufeff"
)
# Letters that render like Latin ones (Unicode confusables, the ones used to spoof words).
_LOOK_ALIKES = {
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d",
    "ԛ": "q", "ԝ": "w", "ɑ": "a", "ο": "o", "α": "a", "ρ": "p", "ν": "v", "ι": "i", "κ": "k",
    "τ": "t", "υ": "u", "χ": "x", "ε": "e", "ѡ": "w", "һ": "h", "ӏ": "l", "ɡ": "g", "ı": "i",
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C",
    "Т": "T", "Х": "X", "Ѕ": "S", "І": "I", "Ј": "J", "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z",
    "Η": "H", "Ι": "I", "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y",
    "Χ": "X", "Ԍ": "G", "Ԁ": "D", "Ү": "Y", "ɩ": "i", "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d",
    "ᴇ": "e", "ɢ": "g", "ʜ": "h", "ɪ": "i", "ᴊ": "j", "ᴋ": "k", "ʟ": "l", "ᴍ": "m", "ɴ": "n",
    "ᴏ": "o", "ᴘ": "p", "ʀ": "r", "ꜱ": "s", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ʏ": "y",
    "ᴢ": "z",
}  # fmt: skip
# Blocks whose characters have a one-letter compatibility form (NFKC), checked at import.
_COMPAT_RANGES = (
    (0x2070, 0x209F), (0x2100, 0x214F), (0x2460, 0x24FF), (0xFF01, 0xFF5E),
    (0x1D400, 0x1D7FF), (0x1F130, 0x1F189), (0x3000, 0x3000), (0xFE50, 0xFE6B),
)  # fmt: skip


def _fold_table() -> dict[int, str]:
    """One character for one character, so folded text keeps the original's offsets."""
    table: dict[int, str] = {}
    for low, high in _COMPAT_RANGES:
        for code in range(low, high + 1):
            plain = unicodedata.normalize("NFKC", chr(code))
            if len(plain) == 1 and plain != chr(code) and plain.isascii():
                table[code] = plain
    table.update({ord(k): v for k, v in _LOOK_ALIKES.items()})
    return table


FOLD = _fold_table()
_DROP_INVISIBLE = {ord(ch): None for ch in INVISIBLE}
_INVISIBLE = re.compile(f"[{INVISIBLE}]")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[\W_]+")


class Sensitivity(IntEnum):
    NONE = 0
    WEAK = 1
    STRONG = 2


_HIDDEN = re.compile(f"\\\\u[0-9a-fA-F]{{4}}|[{INVISIBLE}]")  # a JSON/repr escape, or invisible


def plain_letters(text: str) -> tuple[str, list[int] | None, list[int] | None]:
    """What the scanners search: ``text`` with compatibility forms and look-alikes folded
    (one character for one), ``\\uXXXX`` escapes decoded and invisible characters removed;
    and, when that moved characters, where each one starts and ends in ``text``."""
    if text.isascii() and "\\u" not in text:
        return text, None, None
    if _HIDDEN.search(text) is None:
        return text.translate(FOLD), None, None
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    position = 0
    for match in _HIDDEN.finditer(text):
        out.append(text[position : match.start()])
        starts.extend(range(position, match.start()))
        ends.extend(range(position + 1, match.start() + 1))
        hidden = match.group()
        if len(hidden) == 6:
            char = chr(int(hidden[2:], 16))
            if char not in INVISIBLE:
                out.append(char)
                starts.append(match.start())
                ends.append(match.end())
        position = match.end()
    out.append(text[position:])
    starts.extend(range(position, len(text)))
    ends.extend(range(position + 1, len(text) + 1))
    return "".join(out).translate(FOLD), starts, ends


def key_words(key: str) -> tuple[str, ...]:
    """The lower-case, accent-free words of a key name: ``DB_Passwort`` -> ('db', 'passwort')."""
    if not key.isascii():
        key = unicodedata.normalize("NFKC", key.translate(_DROP_INVISIBLE)).translate(FOLD)
        key = "".join(
            ch for ch in unicodedata.normalize("NFKD", key) if not unicodedata.combining(ch)
        )
    return tuple(w for w in _SEPARATORS.split(_CAMEL.sub("_", key).casefold()) if w)


# A value under one of these words is a secret, whatever it looks like.
_STRONG_WORDS = frozenset(
    [
        "password",
        "passwords",
        "passwd",
        "pwd",
        "pw",
        "pass",
        "passphrase",
        "passcode",
        "passkey",
        "passwort",
        "kennwort",
        "secret",
        "secrets",
        "token",
        "credential",
        "credentials",
        "creds",
        "cred",
        "auth",
        "authorization",
        "authorisation",
        "cookie",
        "cookies",
        "cvv",
        "cvc",
        "cvv2",
        "cvc2",
        "pin",
        "otp",
        "totp",
        "hotp",
        "mfa",
        "bearer",
        "jwt",
        "apikey",
        "privatekey",
        "secretkey",
        "accesskey",
        "sessionkey",
        "masterkey",
        "signingkey",
        "encryptionkey",
        "sig",
        "signature",
        "ssn",
        "iban",
        "creditcard",
        "ccnumber",
        "cardnumber",
        "psk",
        "dsn",
        "contrasena",
        "clave",
        "senha",
        "motdepasse",
        "passe",
        "wachtwoord",
        "losenord",
        "passord",
        "adgangskode",
        "kodeord",
        "salasana",
        "haslo",
        "hasło",
        "heslo",
        "jelszo",
        "lozinka",
        "geslo",
        "parola",
        "sifre",
        "sandi",
        "geheim",
        "geheimnis",
        "secreto",
        "segreto",
        "segredo",
        "sekret",
        "parool",
        "salasona",
        "пароль",
        "парол",
        "лозинка",
        "секрет",
        "токен",
        "гасло",
        "密码",
        "密碼",
        "口令",
        "パスワード",
        "비밀번호",
        "암호",
        "סיסמה",
        "סיסמא",
        "पासवर्ड",
        "كلمةالمرور",
        "كلمةالسر",
    ]
)
# Compounds written as one word (``DBPASSWORD``, ``clientsecret``, ``Datenbankpasswort``).
_STRONG_PARTS = (
    "password", "passwd", "passwort", "kennwort", "passphrase", "passcode", "secret",
    "token", "credential", "apikey", "privatekey", "accesskey", "secretkey", "sessionkey",
    "contrasena", "motdepasse", "wachtwoord", "пароль", "密码", "パスワード", "비밀번호",
    "creditcard", "cardnumber",
)  # fmt: skip
_NOT_PARTS = ("secretar", "tokeniz", "tokens", "secretion")  # secretary, tokenizer: words
# ``key`` alone is weak; after one of these it names a secret (api key, signing key...).
_KEY_QUALIFIERS = frozenset(
    [
        "api",
        "secret",
        "private",
        "access",
        "session",
        "encryption",
        "enc",
        "signing",
        "sign",
        "master",
        "license",
        "licence",
        "client",
        "auth",
        "ssh",
        "gpg",
        "pgp",
        "rsa",
        "dsa",
        "ecdsa",
        "ed25519",
        "hmac",
        "shared",
        "app",
        "application",
        "service",
        "account",
        "subscription",
        "consumer",
        "webhook",
        "aws",
        "deploy",
        "deployment",
        "storage",
        "admin",
        "root",
        "crypto",
        "decryption",
        "pre",
        "preshared",
        "secure",
        "developer",
        "stripe",
        "google",
        "openai",
        "anthropic",
        "github",
        "slack",
        "twilio",
        "sendgrid",
        "mailgun",
        "azure",
        "gcp",
        "firebase",
        "mapbox",
        "algolia",
        "datadog",
        "sentry",
        "pagerduty",
        "heroku",
        "npm",
        "pypi",
        "docker",
        "vault",
        "jwt",
        "oauth",
        "bot",
    ]
)
_WEAK_WORDS = frozenset(
    ["key", "keys", "ключ", "schlussel", "schluessel", "cle", "chave", "llave", "chiave", "tokens"]
)
# Words that make the key a setting or a count about a secret, not the secret.
_META_WORDS = frozenset(
    [
        "count",
        "max",
        "min",
        "num",
        "number",
        "limit",
        "limits",
        "length",
        "len",
        "size",
        "usage",
        "total",
        "budget",
        "remaining",
        "used",
        "estimate",
        "prompt",
        "completion",
        "input",
        "output",
        "cached",
        "reasoning",
        "rate",
        "ttl",
        "timeout",
        "expiry",
        "expires",
        "expiration",
        "expired",
        "lifetime",
        "age",
        "policy",
        "strength",
        "enabled",
        "required",
        "optional",
        "rotation",
        "rotate",
        "rotated",
        "changed",
        "updated",
        "created",
        "reset",
    ]
)
# As the last word, these make the key name a secret's name, place or kind.
_NAME_TAILS = frozenset(
    [
        "name",
        "names",
        "id",
        "ids",
        "type",
        "types",
        "kind",
        "url",
        "uri",
        "urls",
        "endpoint",
        "endpoints",
        "path",
        "paths",
        "file",
        "files",
        "dir",
        "directory",
        "format",
        "field",
        "fields",
        "header",
        "headers",
        "hint",
        "prefix",
        "suffix",
        "env",
        "var",
        "vars",
        "variable",
        "ref",
        "reference",
        "arn",
        "label",
        "labels",
        "alg",
        "algorithm",
        "method",
        "mode",
        "scheme",
        "provider",
        "version",
        "location",
        "store",
        "source",
        "manager",
        "regex",
        "pattern",
        "validator",
        "owner",
        "at",
        "date",
        "time",
        "placeholder",
        "description",
        "desc",
        "help",
        "title",
    ]
)
_NUMBER_WORDS = ("card", "cc", "credit")  # card_number, cc_num: the whole value is the secret


@lru_cache(maxsize=8192)
def sensitivity(key: str) -> Sensitivity:
    """How much a value under ``key`` must be treated as a secret (cached: keys repeat)."""
    if len(key) > 128:
        key = key[:128]
    words = key_words(key)
    if not words:
        return Sensitivity.NONE
    joined = "".join(words)
    strong = any(w in _STRONG_WORDS for w in words) or _strong_compound(joined)
    if not strong and "key" in words:
        at = words.index("key")
        strong = at > 0 and words[at - 1] in _KEY_QUALIFIERS
    if not strong and len(words) >= 2:
        strong = words[0] in _NUMBER_WORDS and words[1] in ("number", "num", "no")
    if strong:
        if any(w in _META_WORDS for w in words):
            return Sensitivity.NONE
        return Sensitivity.WEAK if words[-1] in _NAME_TAILS else Sensitivity.STRONG
    if any(w in _WEAK_WORDS for w in words) or joined.endswith("key"):
        return Sensitivity.NONE if any(w in _META_WORDS for w in words) else Sensitivity.WEAK
    return Sensitivity.NONE


def _normalised(words: frozenset[str]) -> frozenset[str]:
    """Word lists as :func:`key_words` leaves them (folded: look-alikes, accents)."""
    return frozenset("".join(key_words(w)) for w in words)


_STRONG_WORDS = _normalised(_STRONG_WORDS)
_WEAK_WORDS = _normalised(_WEAK_WORDS)
_STRONG_PARTS_NORMALISED = tuple("".join(key_words(p)) for p in _STRONG_PARTS)


def _strong_compound(joined: str) -> bool:
    if joined.endswith("key") and joined[:-3] in _KEY_QUALIFIERS:
        return True
    return any(part in joined for part in _STRONG_PARTS_NORMALISED) and not any(
        part in joined for part in _NOT_PARTS
    )


# Literal stems, one of which every STRONG or WEAK key contains once folded and lower-cased:
# the scanners look for these first, and judge the whole key only around a hit.
KEY_STEMS = tuple(
    sorted(
        {
            "pass", "pwd", "pw", "secret", "token", "auth", "cred", "cookie", "cvv", "cvc",
            "pin", "otp", "mfa", "bearer", "jwt", "key", "sig", "ssn", "iban", "card", "psk",
            "dsn", "clave", "senha", "wachtwoord", "losenord", "passord", "adgangskode",
            "kodeord", "salasana", "haslo", "hasło", "lösen", "heslo", "jelsz", "lozinka", "geslo",
            "parola", "sifre", "şifre", "sandi", "geheim", "secreto", "segreto", "segredo",
            "sekret", "parool", "contrase", "kennwort", "schl", "chave", "llave", "chiave",
            "пароль", "парол", "лозинка", "секрет", "токен", "гасло", "ключ", "密码", "密碼",
            "口令", "パスワード", "비밀번호", "암호", "סיסמ", "पासवर्ड", "كلمة", "clé",
        }
    )
)  # fmt: skip


def folded_stems() -> tuple[str, ...]:
    """The stems as they appear in folded, lower-cased text (look-alikes folded too)."""
    return tuple(sorted({s.translate(FOLD).lower() for s in KEY_STEMS}))


_TOKEN_CHARS = re.compile(r"[A-Za-z0-9+/=_\-.~]{16,}")


def looks_secret(value: str) -> bool:
    """A long, random-looking single token: what a credential looks like whatever its format.

    Paths, URLs, words and version strings are not: the value must mix letters and digits
    (or cases, when long) and carry at least 3 bits of entropy per character.
    """
    if not 16 <= len(value) <= 4096 or _TOKEN_CHARS.fullmatch(value) is None:
        return False
    if value[0] in "/." or "://" in value or value.count("/") > 3:
        return False
    digits = any(c.isdigit() for c in value)
    upper, lower = any(c.isupper() for c in value), any(c.islower() for c in value)
    if not ((digits and (upper or lower)) or (upper and lower and len(value) >= 20)):
        return False
    return entropy(value) >= 3.0


def entropy(value: str) -> float:
    """Shannon entropy in bits per character."""
    counts: dict[str, int] = {}
    for ch in value:
        counts[ch] = counts.get(ch, 0) + 1
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in counts.values())
