"""@audit_tool: the tool behaves exactly as without it, and every call arrives as two events."""

from __future__ import annotations

import asyncio
import inspect

import pytest

from producers.auditor import Auditor
from producers.decorator import audit_tool
from schemas.kafka import KafkaSettings
from tests.producers.conftest import CANARY, consume


def read_file(path: str, limit: int = 10) -> str:
    """Read a file."""
    return f"{path}:{limit}"


async def fetch(url: str, *, token: str) -> dict[str, str]:
    await asyncio.sleep(0)
    return {"url": url, "echo": token}


def test_wrapper_keeps_signature_and_metadata() -> None:
    wrapped = audit_tool(read_file)
    assert inspect.signature(wrapped) == inspect.signature(read_file)
    assert wrapped.__name__ == "read_file" and wrapped.__doc__ == "Read a file."
    assert inspect.iscoroutinefunction(audit_tool(fetch))


@pytest.mark.broker
def test_calls_arrive_as_attempt_and_result(
    auditor: Auditor, kafka_settings: KafkaSettings
) -> None:
    tool = audit_tool(read_file)
    for i in range(20):
        assert tool(f"/tmp/{i}", limit=i) == f"/tmp/{i}:{i}"
    assert auditor.publisher.flush(10) == 0
    events = consume(kafka_settings, 40)
    assert len(events) == 40
    by_call: dict[str, list[str]] = {}
    for event in events:
        assert event["target"]["tool_name"] == "read_file"
        assert event["target"]["arg_keys"] == ["path", "limit"]
        by_call.setdefault(event["call_id"], []).append(event["phase"])
    assert all(sorted(p) == ["ATTEMPT", "RESULT"] for p in by_call.values())
    seqs = sorted(e["integrity"]["seq"] for e in events)
    assert seqs == list(range(1, 41))


@pytest.mark.broker
async def test_async_errors_pass_through_and_are_audited(
    auditor: Auditor, kafka_settings: KafkaSettings
) -> None:
    @audit_tool(name="boom")
    async def boom(x: int) -> int:
        raise ValueError(f"bad x {x} with key {CANARY}")

    tool = audit_tool(fetch)
    assert await tool("https://example.com", token=CANARY) == {
        "url": "https://example.com",
        "echo": CANARY,
    }
    with pytest.raises(ValueError, match="bad x 3") as caught:
        await boom(3)
    assert CANARY in str(caught.value)
    assert auditor.publisher.flush(10) == 0
    messages = consume(kafka_settings, 4, raw=True)
    assert len(messages) == 4
    assert all(CANARY.encode() not in m.value() for m in messages)
