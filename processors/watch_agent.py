"""The pipeline self-watch as a Faust agent on a topic keyed by producer stream.

Raw events are keyed by user, so one producer stream's events (and its
heartbeats) are spread over partitions, hence over workers: no worker alone
sees a whole stream. Each enrichment batch therefore sends, per stream it saw,
the sequence numbers and the latest heartbeat to ``<app id>-watch``, keyed by
stream id (:class:`StreamFacts`). This agent consumes that topic, so every
stream's facts meet on one worker, which runs :class:`PipelineWatch` for it.
The volume is one small message per stream per batch: Faust's per-message
path is ample for it. A timer checks for silent producers and overdue gaps.
"""

from __future__ import annotations

import time
from typing import Any

import faust
import orjson

from processors.alerts import AlertFolder
from processors.detectors.base import Finding
from processors.messages import OutMessage
from processors.watch import PipelineWatch
from schemas.wire import SingleObjectSerializer

S = 1_000_000
CHECK_EVERY_S = 1.0


class StreamFacts:
    """Per batch, what the self-watch needs from each producer stream; no I/O."""

    def __init__(self) -> None:
        self._streams: dict[str, dict[str, Any]] = {}

    def add(self, event: dict[str, Any]) -> None:
        integrity = event["integrity"]
        facts = self._streams.get(integrity["stream_id"])
        if facts is None:
            host = event["context"]["producer"]["host"]
            facts = self._streams[integrity["stream_id"]] = {
                "seqs": [], "beat": None, "beat_seq": None, "host": host,
            }  # fmt: skip
        seq = integrity["seq"]
        facts["seqs"].append(seq)
        # Latest by seq, not by arrival: a producer replays its spool after newer
        # events, so an old beat can arrive after the final one.
        beat = event.get("heartbeat") if event["event_type"] == "HEARTBEAT" else None
        if beat is not None and (facts["beat_seq"] is None or seq > facts["beat_seq"]):
            facts["beat"], facts["beat_seq"] = beat, seq

    def drain(self) -> list[OutMessage]:
        """One message per stream seen since the last drain, keyed by stream id."""
        out = [OutMessage(s.encode(), orjson.dumps(f)) for s, f in self._streams.items()]
        self._streams = {}
        return out


def watch_topic_name(app_id: str) -> str:
    return f"{app_id}-watch"


def add_watch_agent(
    app: faust.App, watch: PipelineWatch, folder: AlertFolder, alerts_topic: str, partitions: int
) -> None:
    """Register the agent and its timer on ``app``; alerts go to ``alerts_topic``."""
    source = app.topic(
        watch_topic_name(app.conf.id), key_serializer="raw", value_serializer="raw",
        partitions=partitions, internal=True,
    )  # fmt: skip
    sink = app.topic(alerts_topic, key_serializer="raw", value_serializer="raw")
    encode = SingleObjectSerializer("Alert")

    async def send(findings: list[Finding]) -> None:
        now = time.time_ns() // 1000
        alerts = [a for f in findings if (a := folder.add(f, None, now)) is not None]
        for alert in alerts + folder.close_expired(now):
            await sink.send(key=None, value=encode(alert))

    @app.agent(source)
    async def watch_streams(stream: Any) -> None:
        async for key, value in stream.items():
            facts = orjson.loads(value)
            found = watch.observe(key.decode(), facts, time.time_ns() // 1000)
            if found:
                await send(found)

    @app.timer(interval=CHECK_EVERY_S)  # type: ignore[untyped-decorator]
    async def watch_clock() -> None:
        await send(watch.check(time.time_ns() // 1000))
