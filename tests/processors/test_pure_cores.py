"""The pure cores import no broker client and no Faust: they run, and are tested, without one.

``batch.py`` once imported its stream facts from the Faust module, so the pure
enrichment core loaded Faust and confluent-kafka with it.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.test_lint import ROOT

PURE = [
    "processors.batch",
    "processors.detectors.suite",
    "processors.watch.facts",
    "processors.watch.streams",
    "processors.watch.stall",
    "processors.watch.sink_lag",
]
CLIENTS = ("faust", "mode", "aiokafka", "confluent_kafka")


@pytest.mark.parametrize("module", PURE)
def test_a_pure_core_loads_no_broker_client_nor_faust(module: str) -> None:
    probe = f"import sys, {module}; print(' '.join(m for m in {CLIENTS!r} if m in sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == []
