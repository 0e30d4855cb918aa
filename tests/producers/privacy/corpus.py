# ruff: noqa: RUF001, RUF003 - look-alike and fullwidth key names are test data here
"""A labelled corpus for the redactor: secrets by format x syntax x field, and benign values.

Formats are written from the providers' documented token shapes (prefix,
alphabet, length), not from ``producers.privacy.secret_formats``, so the corpus does not
inherit the scanner's mistakes. Each case carries the exact secret that must not
survive. Seeded: the same corpus every run.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import string
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

B62 = string.ascii_letters + string.digits
HEX = "0123456789abcdef"
URLSAFE = B62 + "_-"
UPPER = string.ascii_uppercase + string.digits


@dataclass(frozen=True)
class Case:
    family: str
    name: str
    syntax: str
    field: str
    value: Any  # what the tool call carries
    secret: str  # must not appear in the cleaned value


def _r(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    for check in string.digits:
        digits, total = body + check, 0
        for i, ch in enumerate(reversed(digits)):
            d = int(ch) * (2 if i % 2 else 1)
            total += d - 9 if d > 9 else d
        if total % 10 == 0:
            return digits
    raise AssertionError


def _iban(country: str, bban: str) -> str:
    rearranged = bban + country + "00"
    check = 98 - int("".join(str(int(c, 36)) for c in rearranged)) % 97
    return f"{country}{check:02d}{bban}"


# (family, name, generator): provider tokens by their documented shapes.
_TOKENS: list[tuple[str, str, Callable[[random.Random], str]]] = [
    *[
        ("github", f"github {p}", lambda r, p=p: p + _r(r, B62, 36))
        for p in ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")
    ],
    (
        "github",
        "github fine-grained",
        lambda r: "github_pat_" + _r(r, B62, 22) + "_" + _r(r, B62, 59),
    ),
    ("gitlab", "gitlab pat", lambda r: "glpat-" + _r(r, URLSAFE, 20)),
    ("gitlab", "gitlab runner", lambda r: "glrt-" + _r(r, URLSAFE, 20)),
    ("gitlab", "gitlab deploy", lambda r: "gldt-" + _r(r, URLSAFE, 20)),
    ("gitlab", "gitlab trigger", lambda r: "glptt-" + _r(r, HEX, 40)),
    *[
        (
            "slack",
            f"slack {p}",
            lambda r, p=p: (
                f"{p}{r.randint(10**10, 10**11)}-{r.randint(10**10, 10**11)}-" + _r(r, B62, 24)
            ),
        )
        for p in ("xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-")
    ],
    (
        "slack",
        "slack app",
        lambda r: f"xapp-1-A{_r(r, UPPER, 10)}-{r.randint(10**12, 10**13)}-" + _r(r, HEX, 64),
    ),
    (
        "slack",
        "slack webhook",
        lambda r: (
            f"https://hooks.slack.com/services/T{_r(r, UPPER, 8)}/B{_r(r, UPPER, 10)}/"
            + _r(r, B62, 24)
        ),
    ),
    ("google", "google api key", lambda r: "AIza" + _r(r, URLSAFE, 35)),
    ("google", "google oauth secret", lambda r: "GOCSPX-" + _r(r, URLSAFE, 28)),
    ("google", "google access token", lambda r: "ya29." + _r(r, URLSAFE, 120)),
    (
        "google",
        "google api key in url",
        lambda r: (
            "https://maps.googleapis.com/maps/api/geocode/json?address=x&key=AIza"
            + _r(r, URLSAFE, 35)
        ),
    ),
    *[
        ("aws", f"aws id {p}", lambda r, p=p: p + _r(r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16))
        for p in ("AKIA", "ASIA", "AROA", "AIDA")
    ],
    *[
        ("stripe", f"stripe {p}", lambda r, p=p: p + _r(r, B62, 24))
        for p in ("sk_live_", "sk_test_", "rk_live_", "pk_live_")
    ],
    ("stripe", "stripe webhook", lambda r: "whsec_" + _r(r, B62, 32)),
    ("payments", "square token", lambda r: "sq0atp-" + _r(r, URLSAFE, 22)),
    ("payments", "square secret", lambda r: "sq0csp-" + _r(r, URLSAFE, 43)),
    ("payments", "razorpay", lambda r: "rzp_live_" + _r(r, B62, 14)),
    ("payments", "shippo", lambda r: "shippo_live_" + _r(r, HEX, 40)),
    (
        "payments",
        "braintree",
        lambda r: (
            "access_token$production$"
            + _r(r, "abcdefghijklmnopqrstuvwxyz0123456789", 16)
            + "$"
            + _r(r, HEX, 32)
        ),
    ),
    ("ai", "openai project", lambda r: "sk-proj-" + _r(r, URLSAFE, 48)),
    ("ai", "openai legacy", lambda r: "sk-" + _r(r, B62, 20) + "T3BlbkFJ" + _r(r, B62, 20)),
    ("ai", "anthropic", lambda r: "sk-ant-api03-" + _r(r, URLSAFE, 93) + "AA"),
    ("ai", "huggingface", lambda r: "hf_" + _r(r, string.ascii_letters, 34)),
    ("ai", "groq", lambda r: "gsk_" + _r(r, B62, 52)),
    ("ai", "replicate", lambda r: "r8_" + _r(r, B62, 37)),
    ("ai", "perplexity", lambda r: "pplx-" + _r(r, B62, 48)),
    ("ai", "xai", lambda r: "xai-" + _r(r, B62, 80)),
    ("ai", "langsmith", lambda r: "lsv2_pt_" + _r(r, HEX, 32) + "_" + _r(r, HEX, 10)),
    ("registry", "npm", lambda r: "npm_" + _r(r, B62, 36)),
    ("registry", "pypi", lambda r: "pypi-AgEIcHlwaS5vcmc" + _r(r, URLSAFE, 70)),
    ("registry", "rubygems", lambda r: "rubygems_" + _r(r, HEX, 48)),
    ("registry", "docker hub", lambda r: "dckr_pat_" + _r(r, URLSAFE, 27)),
    (
        "registry",
        "clojars",
        lambda r: "CLOJARS_" + _r(r, "abcdefghijklmnopqrstuvwxyz0123456789", 60),
    ),
    ("ci", "buildkite", lambda r: "bkua_" + _r(r, HEX, 40)),
    ("ci", "pulumi", lambda r: "pul-" + _r(r, HEX, 40)),
    ("ci", "prefect", lambda r: "pnu_" + _r(r, B62, 36)),
    ("ci", "octopus", lambda r: "API-" + _r(r, UPPER, 26)),
    ("ci", "jfrog", lambda r: "AKCp" + _r(r, B62, 69)),
    ("cloud", "digitalocean", lambda r: "dop_v1_" + _r(r, HEX, 64)),
    ("cloud", "alibaba", lambda r: "LTAI" + _r(r, B62, 20)),
    ("cloud", "databricks", lambda r: "dapi" + _r(r, HEX, 32)),
    ("cloud", "doppler", lambda r: "dp.pt." + _r(r, B62, 43)),
    ("cloud", "vault", lambda r: "hvs." + _r(r, URLSAFE, 90)),
    ("cloud", "supabase", lambda r: "sbp_" + _r(r, HEX, 40)),
    ("cloud", "planetscale", lambda r: "pscale_tkn_" + _r(r, URLSAFE, 43)),
    (
        "cloud",
        "terraform",
        lambda r: (
            _r(r, "abcdefghijklmnopqrstuvwxyz0123456789", 14) + ".atlasv1." + _r(r, URLSAFE, 67)
        ),
    ),
    ("cloud", "azure ad secret", lambda r: _r(r, B62, 3) + "8Q~" + _r(r, B62 + "~.", 34)),
    ("cloud", "age", lambda r: "AGE-SECRET-KEY-1" + _r(r, "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L", 58)),
    ("cloud", "dynatrace", lambda r: "dt0c01." + _r(r, UPPER, 24) + "." + _r(r, UPPER, 64)),
    ("cloud", "heroku", lambda r: "HRKU-AA" + _r(r, URLSAFE, 58)),
    ("cloud", "fly.io", lambda r: "fo1_" + _r(r, URLSAFE, 43)),
    ("cloud", "openshift", lambda r: "sha256~" + _r(r, URLSAFE, 43)),
    (
        "observability",
        "grafana service account",
        lambda r: "glsa_" + _r(r, B62, 32) + "_" + _r(r, HEX, 8),
    ),
    ("observability", "grafana cloud", lambda r: "glc_" + _r(r, B62 + "+/", 60)),
    ("observability", "sentry", lambda r: "sntryu_" + _r(r, HEX, 64)),
    ("observability", "new relic", lambda r: "NRAK-" + _r(r, UPPER, 27)),
    ("saas", "sendgrid", lambda r: "SG." + _r(r, URLSAFE, 22) + "." + _r(r, URLSAFE, 43)),
    ("saas", "twilio", lambda r: "SK" + _r(r, HEX, 32)),
    ("saas", "mailgun", lambda r: "key-" + _r(r, HEX, 32)),
    ("saas", "brevo", lambda r: "xkeysib-" + _r(r, HEX, 64) + "-" + _r(r, B62, 16)),
    ("saas", "postman", lambda r: "PMAK-" + _r(r, HEX, 24) + "-" + _r(r, HEX, 34)),
    ("saas", "linear", lambda r: "lin_api_" + _r(r, B62, 40)),
    ("saas", "figma", lambda r: "figd_" + _r(r, URLSAFE, 40)),
    ("saas", "notion", lambda r: "ntn_" + _r(r, string.digits, 11) + _r(r, B62, 35)),
    ("saas", "atlassian", lambda r: "ATATT3" + _r(r, URLSAFE, 180)),
    ("saas", "contentful", lambda r: "CFPAT-" + _r(r, URLSAFE, 43)),
    ("saas", "airtable", lambda r: "pat" + _r(r, B62, 14) + "." + _r(r, HEX, 64)),
    ("saas", "dropbox", lambda r: "sl." + _r(r, URLSAFE, 138)),
    ("saas", "telegram bot", lambda r: f"{r.randint(10**8, 10**9)}:AA" + _r(r, URLSAFE, 33)),
    (
        "saas",
        "discord webhook",
        lambda r: (
            f"https://discord.com/api/webhooks/{r.randint(10**17, 10**18)}/" + _r(r, URLSAFE, 68)
        ),
    ),
    ("saas", "mailersend", lambda r: "mlsn." + _r(r, HEX, 64)),
    ("saas", "typeform", lambda r: "tfp_" + _r(r, URLSAFE, 59)),
    ("saas", "adafruit", lambda r: "aio_" + _r(r, B62, 28)),
    ("saas", "yandex", lambda r: "y0_" + _r(r, URLSAFE, 55)),
    ("jwt", "jwt", lambda r: _jwt(r)),
    ("auth_header", "bearer", lambda r: "Bearer " + _r(r, URLSAFE + ".", 40)),
    (
        "auth_header",
        "basic",
        lambda r: (
            "Basic "
            + base64.b64encode(
                f"{_r(r, string.ascii_lowercase, 6)}:{_r(r, B62, 12)}".encode()
            ).decode()
        ),
    ),
    (
        "url_credentials",
        "url postgres",
        lambda r: f"postgres://app:{_r(r, B62, 14)}@db.internal:5432/app",
    ),
    (
        "url_credentials",
        "url redis no user",
        lambda r: f"redis://:{_r(r, B62, 16)}@cache.internal:6379/0",
    ),
    ("url_credentials", "url amqp", lambda r: f"amqp://guest:{_r(r, B62, 12)}@mq:5672/"),
    (
        "url_credentials",
        "url mongodb+srv",
        lambda r: f"mongodb+srv://admin:{_r(r, B62, 18)}@cluster0.example.net/db",
    ),
    (
        "url_credentials",
        "url https",
        lambda r: f"https://deploy:{_r(r, B62, 20)}@git.example.com/org/repo.git",
    ),
    (
        "url_query",
        "url access_token",
        lambda r: "https://api.example.com/v2/items?page=2&access_token=" + _r(r, B62, 24),
    ),
    (
        "url_query",
        "url s3 signature",
        lambda r: (
            "https://bucket.s3.amazonaws.com/f.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature="
            + _r(r, HEX, 64)
        ),
    ),
    (
        "url_query",
        "url azure sas",
        lambda r: (
            "https://acct.blob.core.windows.net/c/f?sv=2022-11-02&sr=b&sig=" + _r(r, B62 + "%", 44)
        ),
    ),
    (
        "url_query",
        "url key",
        lambda r: (
            "https://api.example.com/search?q=report&key=" + _r(r, string.ascii_lowercase, 10)
        ),
    ),
    ("private_key", "rsa private key", lambda r: _pem("RSA PRIVATE KEY", r)),
    ("private_key", "pkcs8 private key", lambda r: _pem("PRIVATE KEY", r)),
    ("private_key", "openssh private key", lambda r: _pem("OPENSSH PRIVATE KEY", r)),
    ("private_key", "ec private key", lambda r: _pem("EC PRIVATE KEY", r)),
    ("private_key", "pgp private key", lambda r: _pem("PGP PRIVATE KEY BLOCK", r)),
    (
        "pii",
        "email",
        lambda r: (
            f"{_r(r, string.ascii_lowercase, 7)}.{_r(r, string.ascii_lowercase, 5)}"
            "@example-mail.com"
        ),
    ),
    ("pii", "visa", lambda r: _luhn_complete("4", 16, r)),
    ("pii", "visa spaced", lambda r: " ".join(_chunks(_luhn_complete("4", 16, r), 4))),
    ("pii", "mastercard dashed", lambda r: "-".join(_chunks(_luhn_complete("51", 16, r), 4))),
    ("pii", "amex", lambda r: _luhn_complete("37", 15, r)),
    ("pii", "ssn", lambda r: f"{r.randint(100, 599)}-{r.randint(10, 99)}-{r.randint(1000, 9999)}"),
    ("pii", "phone e164", lambda r: f"+1415{r.randint(2000000, 9999999)}"),
    ("pii", "phone us parens", lambda r: f"(415){r.randint(200, 999)}{r.randint(1000, 9999)}"),
    ("pii", "phone us dashed", lambda r: f"415-{r.randint(200, 999)}-{r.randint(1000, 9999)}"),
    ("pii", "phone uk", lambda r: f"+44 20 {r.randint(7000, 7999)} {r.randint(1000, 9999)}"),
    ("pii", "iban", lambda r: _iban("DE", "".join(r.choice(string.digits) for _ in range(18)))),
    (
        "pii",
        "iban lower",
        lambda r: _iban("GB", "WEST" + "".join(r.choice(string.digits) for _ in range(14))).lower(),
    ),
    (
        "pii",
        "us itin",
        lambda r: f"9{r.randint(10, 99)}-{r.randint(70, 88)}-{r.randint(1000, 9999)}",
    ),
    ("pii", "bitcoin bech32", lambda r: "bc1q" + _r(r, "acdefghjklmnpqrstuvwxyz023456789", 38)),
    ("pii", "ethereum", lambda r: "0x" + _r(r, HEX + "ABCDEF", 40)),
    ("pii", "uk nino", lambda r: "AB" + "".join(r.choice(string.digits) for _ in range(6)) + "C"),
]


def _chunks(text: str, n: int) -> list[str]:
    return [text[i : i + n] for i in range(0, len(text), n)]


def _jwt(rng: random.Random) -> str:
    def part(obj: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")

    sub = _r(rng, B62, 10)
    header, claims = part({"alg": "HS256", "typ": "JWT"}), part({"sub": sub, "iat": 1700000000})
    return f"{header}.{claims}.{_r(rng, URLSAFE, 43)}"


def _pem(label: str, rng: random.Random) -> str:
    body = "\n".join(_chunks(_r(rng, B62 + "+/", 256), 64))
    return f"-----BEGIN {label}-----\n{body}\n-----END {label}-----"


# Key names that announce a secret, as people and tools spell them, with low-entropy values:
# only the key can give these away.
_KEYS = [
    "password", "DB_PASSWORD", "pwd", "pw", "passwd", "passphrase", "client_secret", "secret",
    "auth", "privateKey", "private-key", "sessionKey", "api_key", "apiKey", "X-Api-Key",
    "access_token", "refreshToken", "AWS_SECRET_ACCESS_KEY", "mysql_root_password", "PGPASSWORD",
    "Passwort", "Kennwort", "contraseña", "пароль", "mot_de_passe", "senha", "wachtwoord",
    "hasło", "パスワード", "密码", "ｐａｓｓｗｏｒｄ", "pass\u200bword",
    "раssword",  # Cyrillic р, а
    "ＡＰＩ＿ＫＥＹ", "credentials", "auth_token", "signing_key", "pin", "cvv",
]  # fmt: skip
_WORDS = ["hunter", "summer", "dragon", "monkey", "letmein", "sunshine", "shadow", "qwerty"]


def _password(rng: random.Random) -> str:
    return rng.choice(_WORDS) + str(rng.randint(10, 9999)) + rng.choice("!#%")


_KEYED = [(f"keyed key={k}", k) for k in _KEYS]


# Syntaxes: how a (key, secret) reaches text. Neutral key names for provider tokens.
def _syntaxes(key: str, secret: str) -> dict[str, str]:
    env = key.upper().replace("-", "_") if key.isascii() else key
    return {
        "env": f"{env}={secret}",
        "export": f"export {env}={secret}",
        "yaml": f"config:\n  {key}: {secret}\n  region: eu-west-1",
        "json": json.dumps({"name": "svc", key: secret}, ensure_ascii=False),
        "json_escaped": json.dumps(json.dumps({key: secret}, ensure_ascii=False)),
        "toml": f'[service]\n{key} = "{secret}"',
        "ini": f"[db]\nhost = db.internal\n{key} = {secret}",
        "header": f"{key}: {secret}",
        "cli_equals": f"deploy --region eu --{key}={secret}",
        "cli_space": f"deploy --{key} {secret} --verbose",
        "prose": f"the {key} is {secret} for now",
        "arrow": f'{{ "{key}" => "{secret}" }}',
        "xml": f"<config><{key}>{secret}</{key}></config>",
        "python_repr": repr({key: secret}),
    }


def _token_syntaxes(secret: str) -> dict[str, str]:
    """A provider token needs no key: bare, in prose, and under neutral names."""
    return {
        "bare": secret,
        "prose": f"I pasted {secret} in the chat, sorry",
        "json": json.dumps({"value": secret, "n": 1}),
        "env": f"VALUE={secret}",
        "yaml": f"settings:\n  value: {secret}",
        "toml": f'value = "{secret}"',
        "cli": f"tool run --value {secret}",
        "header": f"X-Debug: {secret}",
        "log": f"2026-01-02T03:04:05Z INFO request ok body={secret!r}",
        "markdown": f"```\n{secret}\n```",
        "json_escaped": json.dumps(json.dumps({"v": secret})),
    }


FIELDS = ("argument", "nested", "result_text", "error_text", "pair", "argv")


def _fields(text: str, key: str | None, secret: str) -> Iterator[tuple[str, Any]]:
    yield "argument", {"input": text}
    yield "nested", {"items": [{"body": text}]}
    yield "result_text", {"content": [{"type": "text", "text": f"Result:\n{text}\nDone."}]}
    yield "error_text", f"ValueError: could not apply {text!s}"
    if key is not None:
        yield "pair", {"env": [{"name": key, "value": secret}]}
        yield "argv", {"argv": ["deploy", f"--{key}", secret]}


def secret_cases(seed: int = 15) -> list[Case]:
    rng = random.Random(seed)
    cases: list[Case] = []
    for family, name, make in _TOKENS:
        secret = make(rng)
        core = _core(family, secret)
        for syntax, text in _token_syntaxes(secret).items():
            for field, value in _fields(text, None, secret):
                cases.append(Case(family, name, syntax, field, value, core))
        for syntax, text in _syntaxes("config", secret).items():
            cases.append(Case(family, name, f"neutral_{syntax}", "argument", {"input": text}, core))
    for name, key in _KEYED:
        secret = _password(rng)
        for syntax, text in _syntaxes(key, secret).items():
            for field, value in _fields(text, key, secret):
                cases.append(Case("keyed", name, syntax, field, value, secret))
    return cases


# Event fields outside arguments and results that carry user or server data, and how a
# secret reaches each (tests/producers/privacy/test_redact_fields.py puts each one there).
EVENT_FIELDS = (
    "tool_name", "prompt_name", "resource_uri", "lineage", "client_name", "client_version",
    "user_agent", "ai_model", "ai_reason", "error_text_high", "permission_subject",
)  # fmt: skip
_URI_FIELDS = ("resource_uri", "lineage")


def _field_texts(field: str, key: str | None, secret: str, url: bool) -> dict[str, str]:
    """The texts a field of this kind carries a secret in: a URI for URI fields (the
    secret as the URL, in its path, as a query parameter or its password), plain
    text for names, versions and reasons."""
    if field in _URI_FIELDS:
        if url:
            return {"url": secret}
        if key is None:
            return {"path": f"https://files.example.com/share/{secret}/report.csv"}
        return {
            "query": f"https://files.example.com/share?{key}={secret}&page=2",
            "userinfo": f"postgres://app:{secret}@db.internal:5432/prod",
        }
    if key is None:
        return {"bare": secret, "prose": f"lookup {secret} now"}
    return {
        "env": f"{key.upper() if key.isascii() else key}={secret}",
        "prose": f"the {key} is {secret}",
        "cli_equals": f"deploy --{key}={secret}",
    }


def field_cases(seed: int = 15) -> list[Case]:
    """Each secret format and each keyed form placed in each event field kind."""
    rng = random.Random(seed)
    cases: list[Case] = []
    secrets: list[tuple[str, str, str | None, str]] = [
        (f, n, None, make(rng)) for f, n, make in _TOKENS
    ]
    secrets += [("keyed", name, key, _password(rng)) for name, key in _KEYED]
    for family, name, key, secret in secrets:
        core = _core(family, secret) if key is None else secret
        url = family in ("url_credentials", "url_query") or (
            "://" in secret and family in ("slack", "saas")
        )
        for field in EVENT_FIELDS:
            for syntax, text in _field_texts(field, key, secret, url).items():
                cases.append(Case(family, name, syntax, field, text, core))
    return cases


def benign_field_values() -> dict[str, list[str]]:
    """Values of those fields that hold no secret: they must come out unchanged."""
    return {
        "tool_name": ["read_file", "search_docs", "get_weather", "create-issue", "db.query"],
        "prompt_name": ["summarise", "code_review", "translate-to-french", "explain_error"],
        "resource_uri": [
            "file:///srv/data/report.csv", "notes://intro", "db://patients/42",
            "https://example.com/v1/items?page=2&sort=asc", "s3://bucket/reports/2026/q3.csv",
            "postgres://app@db.internal:5432/prod", "git://github.com/org/repo.git",
            "https://api.github.com/repos/org/repo/pulls?state=open&per_page=50",
        ],
        "lineage": ["context://agent-7", "mail://out", "table:analytics.events", "phi"],
        "client_name": ["claude-ai", "Claude Desktop", "cursor", "mcp-inspector", "fastmcp"],
        "client_version": ["1.0.0", "0.13.2", "2026.1.15", "1.2.3-beta.4+build.7"],
        "user_agent": ["python-httpx/0.28.1", "Mozilla/5.0 (X11; Linux x86_64)"],
        "ai_model": ["claude-sonnet-4-5", "gpt-4o-2024-08-06", "llama-3.1-70b"],
        "ai_reason": ["the user asked for last quarter's report", "check the build status"],
    }  # fmt: skip


def _core(family: str, secret: str) -> str:
    """The part that must go: the credential of a URL or header, the token itself."""
    if family == "url_credentials":
        return secret.split("://", 1)[1].split("@", 1)[0].split(":", 1)[1]
    if family == "url_query":
        return secret.rsplit("=", 1)[1]
    if family == "auth_header":
        return secret.split(" ", 1)[1]
    if family == "private_key":
        return secret.splitlines()[1]
    if family in ("slack", "saas") and "://" in secret:
        return secret.rsplit("/", 1)[1]
    if "key=AIza" in secret:
        return secret.rsplit("=", 1)[1]
    return secret


# ---- benign values -------------------------------------------------------------------------


def benign_cases(seed: int = 15, per_family: int = 250) -> list[Case]:
    rng = random.Random(seed)
    makers: dict[str, Callable[[random.Random], Any]] = {
        "paths": lambda r: (
            r.choice(
                ["/srv/data/", "/home/app/", "C:\\Users\\Public\\", "./build/", "s3://bucket/"]
            )
            + "/".join(
                r.choice(["reports", "2026", "q3", "logs", "img", "src", "tokenizer", "keyboard"])
                for _ in range(r.randint(1, 4))
            )
            + r.choice([".csv", ".py", ".json", ".png", ""])
        ),
        "uuids": lambda r: str(uuid.UUID(int=r.getrandbits(128))),
        "hashes": lambda r: r.choice([hashlib.sha256, hashlib.sha1, hashlib.md5])(
            str(r.random()).encode()
        ).hexdigest(),
        "urls": lambda r: (
            f"https://{r.choice(['example.com', 'docs.python.org', 'api.github.com'])}/"
            f"{r.choice(['v1/items', 'search', 'repos/org/repo/pulls'])}?page={r.randint(1, 50)}"
            f"&sort={r.choice(['asc', 'desc'])}"
            f"&q={r.choice(['report', 'monkey', 'keyboard', 'pin+code'])}"
        ),
        "code": lambda r: r.choice(_CODE).format(n=r.randint(1, 4096)),
        "prose": lambda r: r.choice(_PROSE).format(n=r.randint(1, 999)),
        "numbers": lambda r: r.choice(
            [
                str(r.randint(1_600_000_000, 1_800_000_000)),
                f"{r.randint(1, 9)}.{r.randint(0, 20)}.{r.randint(0, 99)}",
                f"{r.randint(1, 255)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
                f"2026-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}T{r.randint(0, 23):02d}:00:00Z",
                f"{r.randint(1, 99999)}.{r.randint(0, 99):02d} EUR",
                str(r.randint(1, 10**9)),
            ]
        ),
        "json": lambda r: json.dumps(
            {
                "usage": {
                    "prompt_tokens": r.randint(1, 9999),
                    "completion_tokens": r.randint(1, 999),
                    "total_tokens": r.randint(1, 99999),
                },
                "max_tokens": 1024,
                "token_type": "Bearer",
                "expires_in": 3600,
                "key": r.choice(["name", "id", "created_at"]),
                "primary_key": "id",
                "author": "Jane Doe",
            }
        ),
        "structured": lambda r: {
            "name": r.choice(["timeout", "region", "replicas"]),
            "value": str(r.randint(1, 99)),
            "password_min_length": 12,
            "keyboard": "us",
            "tokens": r.randint(1, 10),
            "monkey": "banana",
        },
    }
    return [
        Case(family, family, "", "argument", {"input": make(rng)}, "")
        for family, make in makers.items()
        for _ in range(per_family)
    ]


_CODE = [
    "def get_password(user):\n    return vault.read(user)",
    'password = os.environ["DB_PASSWORD"]',
    "token = request.headers.get('Authorization')",
    "SELECT id, name, created_at FROM users WHERE id = {n} LIMIT 10;",
    "for key, value in config.items():\n    print(key, value)",
    "const maxTokens = {n};\nexport default maxTokens;",
    "if (!password) {{ throw new Error('password is required'); }}",
    "max_tokens = {n}\ntemperature = 0.2",
    "password_min_length = 12\npassword_policy = 'strict'",
    "curl -s https://example.com/health | jq .status",
    "docker run -p 8080:80 nginx:1.{n}",
    "git log --oneline -n {n}",
    "api_key = get_secret('stripe')",
    'secret = "${{STRIPE_SECRET}}"',
    "kubectl get pods -n default -o wide",
    '<input type="password" name="password" placeholder="Password">',
]
_PROSE = [
    "Please reset your password using the link we sent.",
    "Your password is incorrect, try again.",
    "The token count was {n} for this request.",
    "The secretary scheduled the meeting for Tuesday.",
    "Use the tokenizer before counting tokens.",
    "Press the key on the keyboard to continue.",
    "The author of the report is on leave until the 3rd.",
    "We shipped {n} parcels from the mapping warehouse.",
    "Session expired after 30 minutes of inactivity.",
    "The password field must not be empty.",
    "Contact support if the problem persists after {n} tries.",
    "The monkey stole the spare key.",
]


@dataclass
class Score:
    cases: int = 0
    misses: int = 0

    @property
    def rate(self) -> float:
        return self.misses / self.cases if self.cases else 0.0


def survivors(redactor: Any, cases: list[Case]) -> Iterator[tuple[Case, str]]:
    """Each secret case whose secret survives cleaning, with the cleaned text."""
    from producers.privacy.redact import Walk

    for case in cases:
        text = json.dumps(redactor.clean(case.value, Walk()), ensure_ascii=False)
        if case.secret in text:
            yield case, text


def scores(redactor: Any) -> tuple[dict[str, Score], dict[str, Score]]:
    """Per family: secret cases missed (1 - recall) and benign cases changed (false positives)."""
    from producers.privacy.redact import Walk

    recall: dict[str, Score] = {}
    secrets = secret_cases()
    missed = {id(c) for c, _ in survivors(redactor, secrets)}
    for case in secrets:
        score = recall.setdefault(case.family, Score())
        score.cases += 1
        score.misses += id(case) in missed
    false: dict[str, Score] = {}
    for case in benign_cases():
        score = false.setdefault(case.family, Score())
        score.cases += 1
        walk = Walk()
        score.misses += redactor.clean(case.value, walk) != case.value or walk.redactions > 0
    return recall, false
