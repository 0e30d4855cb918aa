"""The pipeline self-watch's Faust parts: an agent on a topic keyed by producer stream, and
the sink-lag check, a timer on the leader. The checks themselves are :mod:`processors.watch`.

Raw events are keyed by user, so one producer stream's events (and its
heartbeats) are spread over partitions, hence over workers: no worker alone
sees a whole stream. Each enrichment batch therefore sends, per stream it saw,
the sequence numbers and the latest heartbeat to ``<app id>-watch``, keyed by
stream id (:class:`~processors.watch.facts.StreamFacts`). This agent consumes that topic, so every
stream's facts meet on one worker, which runs :class:`PipelineWatch` for it.
The volume is one small message per stream per batch: Faust's per-message
path is ample for it. A timer checks for silent producers and overdue gaps.

The sink's lag is one number for the whole pipeline, so one worker measures
it: Faust's leader (the worker holding its one-partition leader topic), a role
Faust already elects and moves when that worker leaves. It runs off the
enrichment path, in a thread, every ``SINK_LAG_CHECK_S``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import faust

from processors.alerts import AlertFolder
from processors.detectors.base import Finding
from processors.errors import SinkLagError
from processors.sink_probe import SinkLagProbe
from processors.watch.facts import StreamFacts
from processors.watch.sink_lag import SinkLagWatch
from processors.watch.streams import PipelineWatch
from schemas.framing import Framer, RegistryFraming
from schemas.wire import SingleObjectSerializer

log = logging.getLogger(__name__)
S = 1_000_000
CHECK_EVERY_S = 1.0
AlertSender = Callable[[list[Finding]], Awaitable[None]]


def watch_topic_name(app_id: str) -> str:
    return f"{app_id}-watch"


def alert_encoder(alerts_topic: str, registry_url: str | None) -> Callable[[dict[str, Any]], bytes]:
    """Alert records as bytes: single-object, and Confluent framing once a configured
    registry gave the Alert schema's id, as the enrichment loop's alerts do
    (:mod:`schemas.framing`)."""
    serialize, frame = SingleObjectSerializer("Alert"), Framer("Alert")
    if registry_url:
        RegistryFraming("Alert", registry_url, alerts_topic, frame.use).start()
    return lambda alert: frame(serialize(alert))


def alert_sender(
    app: faust.App, folder: AlertFolder, alerts_topic: str, registry_url: str | None = None
) -> AlertSender:
    """Sends findings to ``alerts_topic`` as Alert records folded by ``folder``, and the
    folded alerts whose window closed."""
    sink = app.topic(alerts_topic, key_serializer="raw", value_serializer="raw")
    encode = alert_encoder(alerts_topic, registry_url)

    async def send(findings: list[Finding]) -> None:
        now = time.time_ns() // 1000
        alerts = [a for f in findings if (a := folder.add(f, None, now)) is not None]
        for alert in alerts + folder.close_expired(now):
            await sink.send(key=None, value=encode(alert))

    return send


def add_watch_agent(
    app: faust.App, watch: PipelineWatch, send: AlertSender, partitions: int
) -> None:
    """Register the agent and its timer on ``app``; alerts go out through ``send``."""
    source = app.topic(
        watch_topic_name(app.conf.id), key_serializer="raw", value_serializer="raw",
        partitions=partitions, internal=True,
    )  # fmt: skip

    @app.agent(source)
    async def watch_streams(stream: Any) -> None:
        async for key, value in stream.items():
            facts = StreamFacts.from_json(value)
            found = watch.observe(key.decode(), facts, time.time_ns() // 1000)
            if found:
                await send(found)

    @app.timer(interval=CHECK_EVERY_S)  # type: ignore[untyped-decorator]
    async def watch_clock() -> None:
        await send(watch.check(time.time_ns() // 1000))


def add_sink_lag_timer(
    app: faust.App, probe: SinkLagProbe, watch: SinkLagWatch, send: AlertSender, every_s: float
) -> None:
    """Register the sink-lag check on ``app``: on the leader only, every ``every_s``."""

    @app.timer(interval=every_s, on_leader=True)  # type: ignore[untyped-decorator]
    async def sink_lag_clock() -> None:
        try:
            lag = await asyncio.to_thread(probe.measure, time.time_ns() // 1_000_000)
        except SinkLagError:
            # Unknown is not caught up: the episode stays as it was until a check succeeds.
            log.warning("sink lag not measured; next try in %.0fs", every_s, exc_info=True)
            return
        finding = watch.check(lag)
        if finding is not None:
            # Also in the log: a sink that stores nothing stores this alert late, too.
            log.warning("%s", finding.summary)
            await send([finding])
