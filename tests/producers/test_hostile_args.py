"""Hostile arguments: the audited tool behaves exactly as the bare one, and no canary leaks."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from producers.auditor import Auditor
from producers.decorator import audit_tool
from schemas.kafka import KafkaSettings
from tests.producers.conftest import CANARY, consume

pytestmark = pytest.mark.broker


class Weird:
    """Not JSON, with a repr that would leak if anything printed it."""

    def __repr__(self) -> str:
        return CANARY


def _cyclic() -> dict[str, Any]:
    loop: dict[str, Any] = {"secret": CANARY}
    loop["loop"] = loop
    return loop


def _deep(depth: int) -> Any:
    value: Any = CANARY
    for _ in range(depth):
        value = {"x": value}
    return value


hostile = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50)
    | st.binary(max_size=50) | st.just(CANARY) | st.just(f"token={CANARY}")
    | st.just("caf\udce9 \udcff") | st.just(10**40) | st.builds(Weird)
    | st.builds(lambda: "x" * 100_000 + CANARY) | st.builds(_cyclic)
    | st.integers(50, 400).map(_deep),
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


class Boom(Exception):
    pass


def bare(*args: Any, **kwargs: Any) -> Any:
    if kwargs.get("explode"):
        raise kwargs["explode"]
    return (args, kwargs)


audited = audit_tool(bare)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    args=st.lists(hostile, max_size=3),
    kwargs=st.dictionaries(st.text(max_size=8), hostile, max_size=3),
)
def test_audited_call_behaves_as_bare(
    auditor: Auditor, args: list[Any], kwargs: dict[str, Any]
) -> None:
    kwargs.pop("explode", None)
    assert audited(*args, **kwargs) == bare(*args, **kwargs)
    error = Boom(f"failed with {CANARY}")
    with pytest.raises(Boom) as caught:
        audited(*args, explode=error, **kwargs)
    assert caught.value is error


def test_no_canary_in_any_produced_byte(auditor: Auditor, kafka_settings: KafkaSettings) -> None:
    test_audited_call_behaves_as_bare(auditor)  # type: ignore[call-arg]
    assert auditor.publisher.flush(20) == 0
    sent = auditor.counters.sent
    assert sent >= 100 and auditor.counters.audit_failures == 0
    messages = consume(kafka_settings, sent, raw=True, timeout_s=20, heartbeats=True)
    assert len(messages) == sent
    assert not [m for m in messages if CANARY.encode() in m.value()]
