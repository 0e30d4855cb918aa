"""Provider token formats (after gitleaks' and TruffleHog's rules), each behind a literal.

Each rule is ``(kind, literal, rest)``: the token starts with ``literal`` (the
pre-filter looks for it first, the regex then starts with it, so Python's
``re`` finds it with its fast literal search) and ``rest`` is the bounded,
possessive remainder. A rule whose token does not start with its literal sets
``before`` (a fixed-width class run matched just before the literal).
"""

from __future__ import annotations

from typing import NamedTuple


class Rule(NamedTuple):
    kind: str
    literal: str
    rest: str
    before: str = ""  # fixed-width pattern the token has before its literal, if any


_B62 = "[A-Za-z0-9]"
_URLSAFE = r"[\w-]"

RULES: tuple[Rule, ...] = (
    # GitHub (classic, fine-grained, OAuth, app, refresh)
    *(Rule("github", p, _B62 + "{36,255}+") for p in ("ghp_", "gho_", "ghu_", "ghs_", "ghr_")),
    Rule("github", "github_pat_", r"\w{22,255}+"),
    # GitLab
    Rule("gitlab", "glpat-", _URLSAFE + "{20,64}+"),
    Rule("gitlab", "glptt-", "[0-9a-f]{40}"),
    Rule("gitlab", "glrt-", _URLSAFE + "{20,64}+"),
    Rule("gitlab", "gldt-", _URLSAFE + "{20,64}+"),
    Rule("gitlab", "glsoat-", _URLSAFE + "{20,64}+"),
    Rule("gitlab", "glimt-", _URLSAFE + "{25,64}+"),
    Rule("gitlab", "glagent-", _URLSAFE + "{50,128}+"),
    Rule("gitlab", "glcbt-", r"[\w-]{20,128}+"),
    Rule("gitlab", "glft-", _URLSAFE + "{20,64}+"),
    Rule("gitlab", "GR1348941", _URLSAFE + "{20,64}+"),
    # Slack tokens and webhooks
    *(Rule("slack", p, r"[\w-]{10,255}+")
      for p in ("xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-", "xoxo-", "xoxe-", "xoxe.")),
    Rule("slack", "xapp-", r"\d-[\w-]{10,255}+"),
    Rule("slack_webhook", "hooks.slack.com/", r"(?:services|workflows|triggers)/[\w/+-]{20,255}+"),
    # Google
    Rule("google_api_key", "AIza", r"[\w-]{35}"),
    Rule("google_oauth", "GOCSPX-", r"[\w-]{24,64}+"),
    Rule("google_oauth", "ya29.", r"[\w-]{20,2048}+"),
    Rule("google_oauth", "1//0", r"[\w-]{30,512}+"),
    # AWS access key ids (the secret access key is found by its key name or next to an id)
    *(Rule("aws_access_key_id", p, "[A-Z2-7]{16}") for p in (
        "AKIA", "ASIA", "ABIA", "ACCA", "AGPA", "AIDA", "AROA", "AIPA", "ANPA", "ANVA", "APKA")),
    # Payments
    *(Rule("stripe", p, _B62 + "{10,247}+") for p in (
        "sk_live_", "sk_test_", "rk_live_", "rk_test_", "pk_live_", "pk_test_")),
    Rule("stripe", "whsec_", _B62 + "{24,128}+"),
    Rule("square", "sq0atp-", _URLSAFE + "{22,64}+"),
    Rule("square", "sq0csp-", _URLSAFE + "{40,64}+"),
    Rule("square", "EAAA", _URLSAFE + "{60,128}+"),
    Rule("braintree", "access_token$", r"(?:production|sandbox)\$[a-z0-9]{16}\$[a-f0-9]{32}"),
    Rule("razorpay", "rzp_live_", _B62 + "{14,64}+"),
    Rule("razorpay", "rzp_test_", _B62 + "{14,64}+"),
    Rule("flutterwave", "FLWSECK", r"(?:_TEST)?-[a-h0-9]{32}-X"),
    Rule("shippo", "shippo_live_", "[a-f0-9]{40}"),
    Rule("shippo", "shippo_test_", "[a-f0-9]{40}"),
    Rule("duffel", "duffel_live_", r"[\w=-]{43,64}+"),
    Rule("duffel", "duffel_test_", r"[\w=-]{43,64}+"),
    Rule("plaid", "access-production-", "[0-9a-f-]{36}"),
    Rule("plaid", "access-sandbox-", "[0-9a-f-]{36}"),
    Rule("plaid", "access-development-", "[0-9a-f-]{36}"),
    Rule("gocardless", "live_", r"[\w=-]{40,64}+"),
    Rule("easypost", "EZAK", _B62 + "{54}"),
    Rule("easypost", "EZTK", _B62 + "{54}"),
    # AI providers
    Rule("openai", "sk-proj-", r"[\w-]{20,255}+"),
    Rule("openai", "sk-svcacct-", r"[\w-]{20,255}+"),
    Rule("openai", "sk-admin-", r"[\w-]{20,255}+"),
    Rule("anthropic", "sk-ant-", r"[\w-]{20,255}+"),
    Rule("api_key", "sk-", r"[\w-]{16,255}+"),  # the generic OpenAI-style secret key
    Rule("api_key", "sk_", _B62 + "{16,255}+"),
    Rule("api_key", "rk_", _B62 + "{16,255}+"),
    Rule("huggingface", "hf_", "[A-Za-z]{30,40}+"),
    Rule("huggingface", "api_org_", "[A-Za-z]{30,40}+"),
    Rule("perplexity", "pplx-", _B62 + "{40,64}+"),
    Rule("groq", "gsk_", _B62 + "{40,64}+"),
    Rule("replicate", "r8_", _B62 + "{30,48}+"),
    Rule("tavily", "tvly-", r"[\w-]{24,64}+"),
    Rule("langsmith", "lsv2_", r"(?:pt|sk)_[a-f0-9]{32}_[a-f0-9]{10}"),
    Rule("xai", "xai-", _B62 + "{60,100}+"),
    Rule("pinecone", "pcsk_", r"\w{40,128}+"),
    Rule("fireworks", "fw_", _B62 + "{20,48}+"),
    Rule("together", "tgp_v1_", r"[\w-]{40,64}+"),
    # Package registries and CI
    Rule("npm", "npm_", _B62 + "{36}"),
    Rule("pypi", "pypi-AgEIcHlwaS5vcmc", r"[\w-]{50,1024}+"),
    Rule("rubygems", "rubygems_", "[a-f0-9]{48}"),
    Rule("clojars", "CLOJARS_", "[a-z0-9]{60}"),
    Rule("docker", "dckr_pat_", r"[\w-]{27,64}+"),
    Rule("buildkite", "bkua_", "[a-f0-9]{40}"),
    Rule("circleci", "CCIPAT_", r"\w{40,80}+"),
    Rule("jfrog", "AKCp", _B62 + "{60,80}+"),
    Rule("jfrog", "cmVmdGtu", _B62 + "{56,64}+"),
    Rule("octopus", "API-", "[A-Z0-9]{26}"),
    Rule("pulumi", "pul-", "[a-f0-9]{40}"),
    Rule("prefect", "pnu_", _B62 + "{36}"),
    Rule("readme", "rdme_", "[a-z0-9]{70}"),
    Rule("sourcegraph", "sgp_", r"[a-fA-F0-9_]{40,64}+"),
    Rule("terraform", ".atlasv1.", r"[\w=-]{60,70}+", before="[a-zA-Z0-9]{14}"),
    # Cloud and infrastructure
    Rule("digitalocean", "dop_v1_", "[a-f0-9]{64}"),
    Rule("digitalocean", "doo_v1_", "[a-f0-9]{64}"),
    Rule("digitalocean", "dor_v1_", "[a-f0-9]{64}"),
    Rule("alibaba", "LTAI", _B62 + "{20}"),
    Rule("azure_ad", "Q~", r"[\w~.-]{31,34}", before=r"[\w~.]{3}\d"),
    Rule("databricks", "dapi", "[a-f0-9]{32}"),
    Rule("doppler", "dp.pt.", "[a-zA-Z0-9]{43}"),
    Rule("doppler", "dp.st.", r"[\w.-]{40,64}+"),
    Rule("doppler", "dp.sa.", "[a-zA-Z0-9]{40,64}+"),
    Rule("doppler", "dp.ct.", "[a-zA-Z0-9]{40,64}+"),
    Rule("dynatrace", "dt0c01.", r"[A-Z0-9]{24}\.[A-Z0-9]{64}"),
    Rule("flyio", "fo1_", r"[\w-]{40,64}+"),
    Rule("flyio", "FlyV1 ", r"fm\d_[\w+/=,-]{40,2048}+"),
    Rule("heroku", "HRKU-", r"[\w-]{40,80}+"),
    Rule("vault", "hvs.", r"[\w-]{24,256}+"),
    Rule("vault", "hvb.", r"[\w-]{60,320}+"),
    Rule("openshift", "sha256~", r"[\w-]{43}"),
    Rule("planetscale", "pscale_tkn_", r"[\w.-]{32,64}+"),
    Rule("planetscale", "pscale_pw_", r"[\w.-]{32,64}+"),
    Rule("planetscale", "pscale_oauth_", r"[\w.-]{32,64}+"),
    Rule("scalingo", "tk-us-", r"[\w-]{40,64}+"),
    Rule("supabase", "sbp_", "[a-f0-9]{40}"),
    Rule("render", "rnd_", _B62 + "{32}"),
    Rule("netlify", "nfp_", _B62 + "{36,48}+"),
    Rule("cloudflare", "v1.0-", "[a-f0-9]{24}-[a-f0-9]{146}"),
    Rule("grafana", "glsa_", r"\w{32,64}+"),
    Rule("grafana", "glc_", r"[A-Za-z0-9+/]{32,400}+={0,2}"),
    Rule("grafana", "eyJrIjoi", r"[A-Za-z0-9+/]{40,400}+={0,2}"),
    Rule("sentry", "sntrys_", r"eyJ[\w=+/]{50,1024}+"),
    Rule("sentry", "sntryu_", "[a-f0-9]{64}"),
    Rule("newrelic", "NRAK-", "[A-Z0-9]{27}"),
    Rule("newrelic", "NRJS-", "[a-f0-9]{19}"),
    Rule("newrelic", "NRII-", r"[\w-]{32}"),
    Rule("age", "AGE-SECRET-KEY-1", "[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}"),
    Rule("onepassword", "ops_eyJ", r"[\w+/=]{200,2048}+"),
    Rule("harness", "pat.", r"\w{22}\.[a-f0-9]{24}\.\w{20}"),
    Rule("infracost", "ico-", _B62 + "{32}"),
    Rule("defined_networking", "dnkey-", r"[\w-]{26}-[\w-]{52}"),
    # Messaging, mail, SaaS
    Rule("sendgrid", "SG.", r"[\w-]{22}\.[\w-]{43}"),
    Rule("twilio", "SK", "[0-9a-fA-F]{32}"),
    Rule("mailgun", "key-", "[0-9a-f]{32}"),
    Rule("brevo", "xkeysib-", "[a-f0-9]{64}-" + _B62 + "{16}"),
    Rule("mailersend", "mlsn.", "[a-f0-9]{64}"),
    Rule("resend", "re_", _B62 + "{8}_" + _B62 + "{24}"),
    Rule("postman", "PMAK-", "[a-f0-9]{24}-[a-f0-9]{34}"),
    Rule("linear", "lin_api_", _B62 + "{40}"),
    Rule("figma", "figd_", r"[\w-]{40,64}+"),
    Rule("notion", "ntn_", _B62 + "{40,50}+"),
    Rule("notion", "secret_", _B62 + "{43}"),
    Rule("atlassian", "ATATT3", r"[\w=-]{150,255}+"),
    Rule("contentful", "CFPAT-", r"[\w-]{43}"),
    Rule("typeform", "tfp_", r"[\w.-]{40,64}+"),
    Rule("adafruit", "aio_", _B62 + "{28}"),
    Rule("airtable", "pat", _B62 + r"{14}\.[a-f0-9]{64}"),
    Rule("facebook", "EAACEdEose0cBA", _B62 + "{20,255}+"),
    Rule("twitter", "AAAAAAAAAAAAAAAAAAAAA", r"[\w%]{30,255}+"),
    Rule("yandex", "y0_", r"[\w-]{55}"),
    Rule("dropbox", "sl.", r"[\w=-]{130,160}+"),
    Rule("mapbox", "sk.eyJ", r"[\w.-]{50,512}+"),
    Rule("discord_webhook", "discord.com/api/webhooks/", r"\d{5,30}/[\w-]{60,68}"),
    Rule("discord_webhook", "discordapp.com/api/webhooks/", r"\d{5,30}/[\w-]{60,68}"),
    Rule("teams_webhook", ".webhook.office.com/", r"webhookb2/[\w@/.-]{40,400}+"),
    Rule("telegram", ":AA", r"[\w-]{33}", before=r"\d{8,10}"),
    # Crypto wallet addresses (personal data, as Presidio counts them)
    Rule("crypto_wallet", "bc1", "[ac-hj-np-z02-9]{25,87}+"),
    Rule("crypto_wallet", "0x", "[0-9a-fA-F]{40}(?![0-9a-fA-F])"),
    # Generic forms
    Rule("jwt", "eyJ", r"[\w-]{5,4096}+\.eyJ[\w-]{2,8192}+\.[\w-]{0,4096}+"),
    Rule("bearer", "Bearer", r"\s{1,4}+[\w.~+/=-]{8,4096}+"),
    Rule("bearer", "bearer", r"\s{1,4}+[\w.~+/=-]{8,4096}+"),
    Rule("bearer", "BEARER", r"\s{1,4}+[\w.~+/=-]{8,4096}+"),
    Rule("basic_auth", "Basic", r"\s{1,4}+[A-Za-z0-9+/]{4,4096}+={0,2}"),
    Rule("basic_auth", "basic", r"\s{1,4}+[A-Za-z0-9+/]{4,4096}+={0,2}"),
    Rule("basic_auth", "BASIC", r"\s{1,4}+[A-Za-z0-9+/]{4,4096}+={0,2}"),
)  # fmt: skip
