"""The redactor against a labelled corpus, and against a scanner the project did not write.

Recall and false positives per family come from tests/producers/privacy/corpus.py; detect-secrets
(Yelp, from PyPI) then scans what the redactor kept: nothing it flags may survive.
"""

from __future__ import annotations

import pytest

from producers.privacy.redact import Redactor, Walk
from readside.report.outside_scanner import findings
from tests.producers.privacy.corpus import FIELDS, benign_cases, scores, secret_cases, survivors

REDACTOR = Redactor()


def test_the_corpus_is_as_large_as_the_bar_says() -> None:
    cases = secret_cases()
    assert len({c.name for c in cases}) >= 100
    assert len({c.syntax for c in cases}) >= 10
    assert {c.field for c in cases} == set(FIELDS)


@pytest.mark.parametrize("use_hyperscan", [True, False], ids=["hyperscan", "re-only"])
def test_recall_and_false_positives_per_family(use_hyperscan: bool) -> None:
    recall, false = scores(Redactor(use_hyperscan=use_hyperscan))
    missed = {f: s.rate for f, s in recall.items() if s.rate > 0.01}
    noisy = {f: s.rate for f, s in false.items() if s.rate > 0.005}
    assert not missed, missed
    assert not noisy, noisy


def test_no_secret_of_the_corpus_survives_anywhere() -> None:
    left = [(c.name, c.syntax, c.field) for c, _ in survivors(REDACTOR, secret_cases())]
    assert len(left) <= 0.01 * len(secret_cases()), left[:20]


def test_detect_secrets_finds_nothing_in_what_the_redactor_keeps() -> None:
    # One case per format and syntax (the field does not change the text detect-secrets sees).
    seen, flagged = set(), []
    for case in secret_cases():
        if (case.name, case.syntax) in seen or case.field != "argument":
            continue
        seen.add((case.name, case.syntax))
        kept = REDACTOR.clean(case.value, Walk())["input"]
        found = findings(kept)
        if found:
            flagged.append((case.name, case.syntax, found))
    assert not flagged, flagged[:10]


def test_detect_secrets_does_flag_the_raw_corpus() -> None:
    # The oracle can fail: on the values before redaction it finds most provider tokens.
    raw = {
        c.name: c.value["input"]
        for c in secret_cases()
        if (c.syntax, c.field) == ("bare", "argument")
    }
    hits = sum(bool(findings(text)) for text in raw.values())
    assert hits >= len(raw) // 2


def test_benign_values_come_back_unchanged() -> None:
    changed = [c.value for c in benign_cases() if REDACTOR.clean(c.value, Walk()) != c.value]
    assert len(changed) <= 0.005 * len(benign_cases()), changed[:10]
