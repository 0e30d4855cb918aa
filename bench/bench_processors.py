"""Processors throughput and alert latency on one real broker, against baselines in the same run.

Measured, on the same topic of the same embedded broker:
* raw aiokafka consumption (``getmany``), the ceiling the issue names;
* raw confluent-kafka consumption (what the enrichment loop reads with);
* Faust out of the box: an agent that does nothing, default settings;
* Faust with ``stream.take(10_000, within=0.05)``, also doing nothing;
* the enrichment worker itself (``mcp-audit processors``, one process), rate
  taken from the broker timestamps of its first and last enriched output;
* the pure per-event cost of each enrichment stage, in process;
* alert latency: producer send to the alert arriving at a consumer of the
  alerts topic, while background traffic flows.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

from confluent_kafka import OFFSET_BEGINNING, Consumer, Producer, TopicPartition

from bench.timing import percentile, table
from mcp_audit.embedded.broker import EmbeddedBroker, free_port
from mcp_audit.topics import ensure_topics
from processors.features import EVENT_PROJECTION
from schemas.kafka import KafkaSettings
from schemas.wire import Deserializer, SingleObjectSerializer
from tests.schemas.factories import audit_event

EVENTS = 100_000
PARTITIONS = 3
ROOT = Path(__file__).parent.parent


def _events(
    count: int, distinct: int = 5_000, *, session_each: bool = False
) -> list[tuple[bytes, bytes]]:
    """Realistic raw messages: 200 users, 13 tools, keyed by user; ``distinct`` encoded once.

    Pseudonyms look like the producer's (HMAC-SHA256 hex: they differ from the first
    character), since the enricher indexes repeated actors by their first bytes.
    """
    encode = SingleObjectSerializer("AuditEvent")
    encoded = []
    for i in range(distinct):
        event = audit_event(seq=i + 1, event_time=_now())
        user = hashlib.sha256(b"user-%d" % (i % 200)).hexdigest()
        event["actor"]["user_pseudonym"] = user
        event["target"]["tool_name"] = f"tool_{i % 13}"
        if session_each:  # no two actors alike: the worst case for Repeating records
            event["actor"]["session_id"] = f"session-{i}"
        encoded.append((user.encode(), encode(event)))
    return [encoded[i % distinct] for i in range(count)]


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


def _produce(bootstrap: str, topic: str, messages: list[tuple[bytes, bytes]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "acks": "all"})
    for key, value in messages:
        while True:
            try:
                producer.produce(topic, value, key)
                break
            except BufferError:
                producer.poll(0.01)
    producer.flush(60)


def _confluent_rate(bootstrap: str, topic: str, count: int) -> float:
    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": uuid.uuid4().hex, "enable.auto.commit": False}
    )
    # Timed from assignment: librdkafka prefetches, so timing from the first
    # batch would leave the prefetch out.
    started = time.perf_counter()
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
    seen = 0
    while seen < count:
        seen += len(consumer.consume(10_000, 1.0))
    rate = count / (time.perf_counter() - started)
    consumer.close()
    return rate


async def _aiokafka_rate(bootstrap: str, topic: str, count: int) -> float:
    from aiokafka import AIOKafkaConsumer
    from aiokafka.structs import TopicPartition as AioTopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    partitions = [AioTopicPartition(topic, p) for p in range(PARTITIONS)]
    started = time.perf_counter()  # from assignment, like the confluent-kafka case
    consumer.assign(partitions)
    await consumer.seek_to_beginning(*partitions)
    seen = 0
    while seen < count:
        batches = await consumer.getmany(timeout_ms=1000, max_records=10_000)
        seen += sum(len(records) for records in batches.values())
    rate = count / (time.perf_counter() - started)
    await consumer.stop()
    return rate


def _faust_probe_rate(bootstrap: str, topic: str, count: int, mode: str) -> float:
    env = {**os.environ, "PROBE_BOOT": bootstrap, "PROBE_TOPIC": topic, "PROBE_N": str(count)}
    env["PROBE_MODE"] = mode
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.bench_processors",
            "faust-probe",
            "worker",
            "-l",
            "warn",
            "--without-web",
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    for line in (result.stdout + result.stderr).splitlines():
        if "PROBE-RATE" in line:
            return float(line.split("PROBE-RATE")[1].split()[0])
    raise RuntimeError(f"faust probe failed: {result.stderr[-2000:]}")


def faust_probe() -> None:
    """A do-nothing Faust agent with default settings; prints its rate and exits."""
    import faust

    mode, count = os.environ["PROBE_MODE"], int(os.environ["PROBE_N"])
    app = faust.App(
        f"probe-{uuid.uuid4().hex[:6]}",
        broker=f"kafka://{os.environ['PROBE_BOOT']}",
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        datadir=tempfile.mkdtemp(prefix="faust-probe-"),  # not <app id>-data in the cwd
    )
    topic = app.topic(os.environ["PROBE_TOPIC"], value_serializer="raw", key_serializer="raw")
    state = {"seen": 0, "started": 0.0}

    def tick(n: int) -> None:
        state["started"] = state["started"] or time.perf_counter()
        state["seen"] += n
        if state["seen"] >= count:
            rate = state["seen"] / (time.perf_counter() - state["started"])
            print(f"PROBE-RATE {rate:.0f}", flush=True)
            os._exit(0)

    @app.agent(topic)  # type: ignore[untyped-decorator]
    async def nothing(stream: Any) -> None:
        if mode == "plain":
            async for _ in stream:
                tick(1)
        else:
            async for batch in stream.take(10_000, within=0.05):
                tick(len(batch))

    sys.argv = [sys.argv[0], *sys.argv[2:]]
    app.main()


def _worker(kafka: KafkaSettings, log: Path) -> subprocess.Popen[bytes]:
    from tests.processors.worker import worker_env

    env = worker_env(kafka, f"bench-{uuid.uuid4().hex[:6]}", log.parent / "data")
    with open(log, "wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "mcp_audit.cli", "processors"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _enriched_rate(kafka: KafkaSettings, count: int) -> float:
    """Rate from the broker timestamps of the first and last enriched message."""
    consumer = Consumer({"bootstrap.servers": kafka.bootstrap_servers, "group.id": "bench-read"})
    consumer.assign(
        [TopicPartition(kafka.topic_enriched, p, OFFSET_BEGINNING) for p in range(PARTITIONS)]
    )
    stamps: list[int] = []
    deadline = time.monotonic() + 300
    while len(stamps) < count and time.monotonic() < deadline:
        stamps += [m.timestamp()[1] for m in consumer.consume(10_000, 1.0) if m.error() is None]
    consumer.close()
    if len(stamps) < count:
        raise RuntimeError(f"only {len(stamps)} of {count} enriched events arrived")
    return count / ((max(stamps) - min(stamps)) / 1000)


def _alert_latencies(kafka: KafkaSettings, alerts: int, background_per_s: int) -> list[float]:
    """Seconds from send to arrival at an alerts consumer, each send a distinct tool change."""
    sent: dict[str, float] = {}
    latencies: list[float] = []
    decode = Deserializer("Alert")
    done = threading.Event()

    def read() -> None:
        consumer = Consumer(
            {
                "bootstrap.servers": kafka.bootstrap_servers,
                "group.id": "lat",
                "fetch.wait.max.ms": 50,
            }
        )
        consumer.assign(
            [TopicPartition(kafka.topic_alerts, p, OFFSET_BEGINNING) for p in range(PARTITIONS)]
        )
        while not done.is_set():
            for message in consumer.consume(100, 0.05):
                alert = decode(message.value())
                for event_id in alert["evidence_event_ids"]:
                    if event_id in sent:
                        latencies.append(time.monotonic() - sent[event_id])
        consumer.close()

    reader = threading.Thread(target=read)
    reader.start()
    producer = Producer({"bootstrap.servers": kafka.bootstrap_servers, "linger.ms": 1})
    encode = SingleObjectSerializer("AuditEvent")
    background = _events(2_000, distinct=500)
    for i in range(alerts):
        changes = []
        for fingerprint in ("a", "b"):
            event = audit_event(seq=i + 1, event_time=_now())
            event["target"].update(tool_name=f"rug_{i}", tool_fingerprint=fingerprint * 64)
            changes.append(event)
        for key, value in background[: background_per_s // 10]:
            producer.produce(kafka.topic_raw, value, key)
        producer.produce(kafka.topic_raw, encode(changes[0]), b"a" * 64)
        producer.produce(kafka.topic_raw, encode(changes[1]), b"a" * 64)
        producer.poll(0)
        sent[changes[1]["event_id"]] = time.monotonic()
        time.sleep(0.1)
    producer.flush(30)
    deadline = time.monotonic() + 15
    while len(latencies) < alerts and time.monotonic() < deadline:
        time.sleep(0.1)
    done.set()
    reader.join()
    return sorted(latencies)


def _stage_costs() -> list[list[str]]:
    """Pure per-event cost of the enrichment stages, in process, on 5,000 raw events."""
    from tests.processors.helpers import enricher, raw

    messages = [raw(value, i, key) for i, (key, value) in enumerate(_events(5_000))]
    decode = Deserializer("AuditEvent")
    now = time.time_ns() // 1000
    worker = enricher()
    worker.process(messages[:500], now)  # warm caches and detector state
    project = worker.decode  # what the enricher decodes: only the fields it reads
    decoded = {m.value: project(m.value) for m in messages}
    alone = [value for _, value in _events(5_000, session_each=True)]
    unlike = Deserializer("AuditEvent", projection=EVENT_PROJECTION)
    costs = {
        "decode whole (schemas.wire Deserializer, generated codec)": _per_event(
            lambda: [decode(m.value) for m in messages]
        ),
        "decode projected (the fields enrichment reads, as the enricher does)": _per_event(
            lambda: [project(m.value) for m in messages]
        ),
        "decode projected, a new session every event (no actor repeats)": _per_event(
            lambda: [unlike(value) for value in alone]
        ),
        "whole BatchEnricher.process": _per_event(lambda: worker.process(messages, now)),
    }
    worker.decode = lambda value: dict(decoded[value])  # type: ignore[assignment,index]
    costs["BatchEnricher.process, events pre-decoded"] = _per_event(
        lambda: worker.process(messages, now)
    )
    return [[name, f"{us:.1f}", f"{1e6 / us:,.0f}"] for name, us in costs.items()]


def _per_event(run: Any, events: int = 5_000) -> float:
    """Best of three rounds, in microseconds per event."""
    return min(_timed(run) for _ in range(3)) / events * 1e6


def _timed(run: Any) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def main() -> str:
    with (
        tempfile.TemporaryDirectory() as tmp,
        EmbeddedBroker(port=free_port(), log_path=Path(tmp) / "b.log") as b,
    ):
        suffix = uuid.uuid4().hex[:6]
        kafka = KafkaSettings.load(
            environ={},
            bootstrap_servers=b.bootstrap_servers,
            partitions=PARTITIONS,
            topic_raw=f"raw-{suffix}",
            topic_enriched=f"enr-{suffix}",
            topic_alerts=f"alerts-{suffix}",
            topic_dead_letter=f"dlq-{suffix}",
        )
        ensure_topics(kafka)
        _produce(b.bootstrap_servers, kafka.topic_raw, _events(EVENTS))
        rates = {
            "raw aiokafka getmany (ceiling)": asyncio.run(
                _aiokafka_rate(b.bootstrap_servers, kafka.topic_raw, EVENTS)
            ),
            "raw confluent-kafka consume": _confluent_rate(
                b.bootstrap_servers, kafka.topic_raw, EVENTS
            ),
            "Faust agent, out of the box, does nothing": _faust_probe_rate(
                b.bootstrap_servers, kafka.topic_raw, EVENTS, "plain"
            ),
            "Faust agent, take(10000, 0.05), does nothing": _faust_probe_rate(
                b.bootstrap_servers, kafka.topic_raw, EVENTS, "take"
            ),
        }
        worker = _worker(kafka, Path(tmp) / "worker.log")
        try:
            rates["mcp-audit processors (enrich + detect, 1 process)"] = _enriched_rate(
                kafka, EVENTS
            )
            latencies = _alert_latencies(kafka, alerts=100, background_per_s=2_000)
        finally:
            worker.terminate()
            worker.wait(30)
    return _report(rates, latencies, _stage_costs())


def _report(rates: dict[str, float], latencies: list[float], stages: list[list[str]]) -> str:
    ceiling = rates["raw aiokafka getmany (ceiling)"]
    rows = [[name, f"{rate:,.0f}", f"{rate / ceiling:.3f}"] for name, rate in rates.items()]
    lat = (
        f"Alert latency, producer send -> alert consumed from the alerts topic, "
        f"{len(latencies)} alerts at 10/s with ~2,000 events/s background: "
        f"p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms, "
        f"max {latencies[-1] * 1000 if latencies else float('nan'):.0f} ms."
    )
    return (
        "## Processors\n\n"
        f"{EVENTS:,} raw AuditEvents (~580 bytes), {PARTITIONS} partitions, one broker.\n\n"
        + table(["consumer", "events/s", "vs aiokafka"], rows)
        + "\n\n"
        + lat
        + "\n\nPer-event cost in process (one core):\n\n"
        + table(["stage", "µs/event", "events/s"], stages)
    )


SIGN_EVENTS = int(os.environ.get("BENCH_SIGN_EVENTS", "20000"))
SIGN_ROUNDS = int(os.environ.get("BENCH_SIGN_ROUNDS", "5"))


def signing_main() -> str:
    """The processors' MAC on enriched records (schemas.record_mac), on the enrichment
    loop's own path: BatchEnricher.process, then Delivery.deliver to a real broker, with
    and without the signer, rounds alternated: ``python -m bench.bench_processors signing``."""
    import secrets
    import statistics

    from processors.delivery import Delivery, OutputTopics
    from processors.messages import BatchOutput
    from schemas.integrity import OriginKey
    from schemas.record_mac import RecordSigner
    from tests.processors.helpers import enricher, raw

    messages = [raw(value, i, key) for i, (key, value) in enumerate(_events(SIGN_EVENTS))]
    worker = enricher()
    worker.process(messages[:500], time.time_ns() // 1000)  # warm caches and detector state
    enrich_us = _per_event(lambda: worker.process(messages, time.time_ns() // 1000), SIGN_EVENTS)
    enriched = worker.process(messages, time.time_ns() // 1000).enriched
    signer = RecordSigner(OriginKey("p1", secrets.token_bytes(32)))
    mac_us = _per_event(lambda: [signer.header(m.value) for m in enriched], len(enriched))
    with (
        tempfile.TemporaryDirectory() as tmp,
        EmbeddedBroker(port=free_port(), log_path=Path(tmp) / "b.log") as b,
    ):
        kafka = KafkaSettings.load(
            environ={}, bootstrap_servers=b.bootstrap_servers, partitions=PARTITIONS,
            topic_enriched=f"enr-{uuid.uuid4().hex[:6]}",
        )  # fmt: skip
        ensure_topics(kafka)
        topics = OutputTopics(
            kafka.topic_enriched, kafka.topic_alerts, kafka.topic_dead_letter, "w"
        )
        deliveries = {
            "unsigned": Delivery(kafka.client_config(), topics, 1.0),
            "signed": Delivery(kafka.client_config(), topics, 1.0, signer),
        }
        out = BatchOutput(enriched=enriched)
        times: dict[str, list[float]] = {name: [] for name in deliveries}
        for _ in range(SIGN_ROUNDS):
            for name, delivery in deliveries.items():
                seconds = _timed(lambda d=delivery: asyncio.run(d.deliver(out)))
                times[name].append(seconds / len(enriched) * 1e6)
        for delivery in deliveries.values():
            delivery.close()
    plain, signed = (statistics.median(times[n]) for n in ("unsigned", "signed"))
    each = "; ".join(
        f"{a:.2f} / {b:.2f}" for a, b in zip(times["unsigned"], times["signed"], strict=True)
    )
    return (
        f"Enrichment hot path, {len(enriched):,} enriched records, µs per record (median of"
        f" {SIGN_ROUNDS} alternated rounds): BatchEnricher.process {enrich_us:.2f}; the MAC"
        f" header alone {mac_us:.2f}; Delivery.deliver to the broker {plain:.2f} unsigned,"
        f" {signed:.2f} signed (rounds: {each}). Enrich + deliver, signed / unsigned:"
        f" **{(enrich_us + signed) / (enrich_us + plain):.3f}x**."
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "faust-probe":
        faust_probe()
    elif sys.argv[1:] == ["signing"]:
        print(signing_main())
    else:
        print(main())
