"""The committed schema reference is what the .avsc files say today."""

from __future__ import annotations

from schemas.docs import DEFAULT_PATH, render


def test_reference_is_current() -> None:
    assert DEFAULT_PATH.read_text() == render(), "run `python -m schemas.docs` and commit"


def test_reference_names_every_record_and_field() -> None:
    text = render()
    for needle in (
        "## AuditEvent",
        "## EnrichedEvent",
        "## Alert",
        "`user_pseudonym`",
        "`risk_score`",
    ):
        assert needle in text
