"""The report's secret count asks detect-secrets too, so it is not the producers' scanner alone."""

from __future__ import annotations

import hashlib

from mcp_audit.commands.report import secret_count
from producers.privacy.scanners import Scanner
from readside.report.outside_scanner import count, findings

# Random base64 with no provider prefix and no key name: the producers' scanner keeps it.
UNKEYED = "q8Zx3Lp9Vw2Ks7Tn4Rm6Yb1Hc5Jd0FgA7eW2uYt"


def test_a_secret_the_producers_scanner_misses_is_still_counted() -> None:
    text = f'{{"note": "{UNKEYED}"}}'
    assert Scanner().scrub(text)[1] == 0
    assert findings(text) and secret_count(text) >= 1


def test_a_secret_both_find_is_counted_once() -> None:
    assert secret_count('{"token": "ghp_abcdefghijklmnopqrstuvwxyz0123456789"}') == 1


def test_stored_digests_and_redaction_markers_are_not_secrets() -> None:
    digest = hashlib.sha256(b"x").hexdigest()
    cut = f"abc...[truncated 9000 chars, sha256 {digest}]"
    stored = f'{{"password": "[REDACTED:key]", "body": "{cut}"}}'
    assert count(stored) == 0 and secret_count(stored) == 0
