"""Sink ingestion from the enriched topic, analyst query latency on 10M rows, bytes per event.

Ingestion: the sink (ClickHouse decodes the Avro) against a naive sink in the
same run (fastavro decode of each message, rows flattened in Python, batched
client.insert), both from the same topic on the real embedded broker into the
same chDB. Rates are measured from the first stored batch to the last, so the
consumer group join (a few seconds on Tansu) is left out of both. Two bounds
frame the sink: reading the topic alone, and chDB's INSERT alone (the sink's
files made in advance, no Kafka, no Python per message).
"""

from __future__ import annotations

import contextlib
import os
import resource
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from clickhouse_connect.driver.client import Client
from confluent_kafka import Consumer, Producer

from bench.sink_data import encoded_events, generate_rows_sql
from bench.sink_naive import naive_row
from bench.timing import table
from mcp_audit.embedded.broker import EmbeddedBroker, free_port
from mcp_audit.topics import ensure_topics
from readside.guard import QUERY_SETTINGS
from schemas import registry
from schemas.kafka import KafkaSettings
from schemas.wire import Deserializer
from sinks.clickhouse import connect
from sinks.enriched import ENRICHED
from sinks.migrate import apply_migrations
from sinks.ocf import container_buffers
from sinks.sealing import sealer_from_settings
from sinks.service import Sink
from sinks.settings import SinkSettings
from sinks.writer import AvroWriter

FAST_ROWS = 500_000
NAIVE_ROWS = 100_000
QUERY_ROWS = 10_000_000
QUERY_SLICES = 40  # ~9 inserts per weekly partition before merges
QUERY_HEADERS = ["query", "median ms before merges", "median ms merged", "max ms merged", "rows"]
BATCH = int(__import__("os").environ.get("BENCH_BATCH", "50000"))


def _produce(kafka: KafkaSettings, values: list[bytes]) -> None:
    producer = Producer({**kafka.client_config(), "linger.ms": 20, "batch.size": 1_000_000})
    for index, value in enumerate(values):
        while True:
            try:
                producer.produce(kafka.topic_enriched, value=value)
                break
            except BufferError:
                producer.poll(0.05)
        if index % 20_000 == 0:
            producer.poll(0)
    assert producer.flush(60) == 0


def _sink_rate(
    kafka: KafkaSettings,
    url: str,
    total: int,
    database: str = "bench_fast",
    sealer: SealerLog | None = None,
) -> SinkRun:
    """Rows/s from the first stored batch to the last, and including the group join; the
    process's CPU seconds (every thread: the sink's, chDB's, the sealer's) between them.

    With ``sealer``, the sealer cycles on the same store meanwhile, every
    SEAL_EVERY_S (60 times as often as the default), appending what was stored, and
    after the sink's last batch until it has appended every row."""
    settings = SinkSettings.load(
        environ={}, clickhouse_url=url, database=database,
        consumer_group=f"bench-{uuid.uuid4().hex[:6]}", batch_rows=BATCH, session_timeout_ms=6000,
    )  # fmt: skip
    stop = threading.Event()
    with Sink(settings, kafka) as sink, _sealing(settings, total, sealer):
        thread = threading.Thread(target=sink.run, args=(stop,))
        started = time.monotonic()
        thread.start()
        while sink.loop.batches == 0:
            time.sleep(0.001)
        first, first_rows, first_cpu = time.monotonic(), sink.store.rows_written, _cpu_s()
        while sink.store.rows_written < total:
            time.sleep(0.001)
        done, cpu_s = time.monotonic(), _cpu_s() - first_cpu
        stop.set()
        thread.join()
    return SinkRun((total - first_rows) / (done - first), total / (done - started), cpu_s)


class SinkRun(NamedTuple):
    rate: float  # rows/s from the first stored batch to the last
    with_join: float  # rows/s including the consumer group's join
    cpu_s: float  # this process's CPU seconds from the first stored batch to the last


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


SEAL_EVERY_S = float(os.environ.get("BENCH_SEAL_EVERY_S", "1.0"))
SEAL_REPEATS = int(os.environ.get("BENCH_SEAL_REPEATS", "2"))


@dataclass
class SealerLog:
    """What a sealer did beside one run: each cycle's seconds, and how long after the
    sink's last batch it had every row appended (the work it left for later)."""

    cycles_s: list[float] = field(default_factory=list)
    catch_up_s: float = 0.0


@contextlib.contextmanager
def _sealing(settings: SinkSettings, total: int, log: SealerLog | None) -> Iterator[None]:
    """With ``log``, a sealer thread cycles while the body runs, then until it has
    appended ``total`` rows (timed as the catch-up)."""
    if log is None:
        yield
        return
    with tempfile.TemporaryDirectory() as keys:
        client = connect(settings.clickhouse_url, settings.database)
        sealer = sealer_from_settings(
            client, settings.model_copy(update={"signing_key_dir": Path(keys)}), None
        )
        appended, stop = [0], threading.Event()

        def run() -> None:
            while not stop.wait(SEAL_EVERY_S):
                started = time.monotonic()
                appended[0] += sealer.cycle()[0]
                log.cycles_s.append(time.monotonic() - started)

        thread = threading.Thread(target=run, name="sealer")
        thread.start()
        try:
            yield
            ended = time.monotonic()
            while appended[0] < total and time.monotonic() - ended < 300:
                time.sleep(0.01)
            log.catch_up_s = time.monotonic() - ended
        finally:
            stop.set()
            thread.join()
        assert appended[0] == total, f"the sealer appended {appended[0]:,} of {total:,} rows"


@dataclass
class SealingRuns:
    """Rows/s of each run without and with the sealer, and what the sealer did."""

    without: list[float] = field(default_factory=list)
    sealed: list[float] = field(default_factory=list)
    sealers: list[SealerLog] = field(default_factory=list)
    cpu_without: list[float] = field(default_factory=list)
    cpu_sealed: list[float] = field(default_factory=list)

    def medians(self) -> tuple[float, float]:
        return statistics.median(self.without), statistics.median(self.sealed)

    def pair_overheads(self) -> list[float]:
        """Ingestion time added in each pair, in percent: a pair's two runs are next to
        each other in time, so what the machine does meanwhile weighs on both alike."""
        pairs = zip(self.without, self.sealed, strict=True)
        return [(without / sealed - 1) * 100 for without, sealed in pairs]


def sealing_overhead(kafka: KafkaSettings, url: str, total: int) -> SealingRuns:
    """Rows/s without and with the sealer, runs alternated (SEAL_REPEATS of each)."""
    runs = SealingRuns()
    for index in range(2 * SEAL_REPEATS):
        sealer = SealerLog() if index % 2 == 1 else None
        run = _sink_rate(kafka, url, total, f"bench_seal_{index}", sealer)
        (runs.sealed if sealer else runs.without).append(run.rate)
        (runs.cpu_sealed if sealer else runs.cpu_without).append(run.cpu_s)
        if sealer:
            runs.sealers.append(sealer)
    return runs


def _consume_only_rate(kafka: KafkaSettings, total: int) -> float:
    """The ceiling any sink has here: reading the topic and storing nothing."""
    consumer = Consumer(
        {**kafka.client_config(), "group.id": uuid.uuid4().hex, "auto.offset.reset": "earliest",
         "session.timeout.ms": 6000, "fetch.max.bytes": 64 * 1024 * 1024,
         "max.partition.fetch.bytes": 16 * 1024 * 1024, "queued.min.messages": 200_000}
    )  # fmt: skip
    consumer.subscribe([kafka.topic_enriched])
    try:
        head = 0
        while not head:  # the group join happens here; the clock starts after it
            head = len(consumer.consume(10_000, 1.0))
        first, taken = time.monotonic(), head
        while taken < total:
            taken += sum(1 for m in consumer.consume(10_000, 1.0) if m.value())
        return (taken - head) / (time.monotonic() - first)
    finally:
        consumer.close()


def _insert_only_rate(url: str, values: list[bytes]) -> float:
    """What chDB alone takes: the sink's INSERTs of its files, built in advance."""
    client = connect(url, "bench_insert")
    apply_migrations(client)
    writer = AvroWriter(client, url)
    fingerprint = registry.current("EnrichedEvent").fingerprint
    half = BATCH // 2
    files = [
        [container_buffers(fingerprint, values[i : i + half]) for i in (start, start + half)]
        for start in range(0, len(values), BATCH)
    ]
    started = time.monotonic()
    for index, batch in enumerate(files):
        writer.write(ENRICHED, batch, f"bench/{index}")
    elapsed = time.monotonic() - started
    writer.close()
    return len(values) / elapsed


def _naive_rate(kafka: KafkaSettings, url: str, total: int) -> float:
    client = connect(url, "bench_naive")
    apply_migrations(client)
    columns = [name for name, _ in ENRICHED.columns]
    decode = Deserializer("EnrichedEvent")
    consumer = Consumer(
        {**kafka.client_config(), "group.id": uuid.uuid4().hex, "auto.offset.reset": "earliest",
         "enable.auto.commit": False, "session.timeout.ms": 6000}
    )  # fmt: skip
    consumer.subscribe([kafka.topic_enriched])
    stored, first_rows, first = 0, 0, 0.0
    rows: list[list[object]] = []
    try:
        while stored < total:
            rows.extend(naive_row(decode(m.value())) for m in consumer.consume(10_000, 0.5))
            if len(rows) >= BATCH or stored + len(rows) >= total:
                taken = rows[: total - stored]
                client.insert("audit_events", taken, column_names=columns)
                consumer.commit(asynchronous=False)
                stored, rows = stored + len(taken), []
                if not first:
                    first, first_rows = time.monotonic(), stored
        return (stored - first_rows) / (time.monotonic() - first)
    finally:
        consumer.close()


ANALYST_QUERIES = {
    "calls per tool per hour, 7 days": """
SELECT toStartOfHour(event_time) AS hour, server_id, tool_name, count() AS calls
FROM audit_events FINAL
WHERE event_time >= now() - INTERVAL 7 DAY AND phase != 'ATTEMPT'
GROUP BY hour, server_id, tool_name ORDER BY hour, server_id, tool_name""",
    "top users by high-risk calls": """
SELECT user_id, count() AS high_risk_calls
FROM audit_events FINAL
WHERE risk_level IN ('HIGH', 'CRITICAL')
GROUP BY user_id ORDER BY high_risk_calls DESC LIMIT 20""",
    "failure rate and p95 latency per tool": """
SELECT server_id, tool_name, count() AS calls,
       round(countIf(status != 'SUCCESS') / count(), 4) AS failure_rate,
       quantile(0.95)(duration_us) / 1000 AS p95_ms
FROM audit_events FINAL
WHERE phase != 'ATTEMPT'
GROUP BY server_id, tool_name ORDER BY failure_rate DESC""",
    "calls per tool per hour, 7 days (calls_hourly)": """
SELECT hour, server_id, tool_name, sum(calls) AS total_calls
FROM calls_hourly
WHERE hour >= now() - INTERVAL 7 DAY
GROUP BY hour, server_id, tool_name ORDER BY hour, server_id, tool_name""",
    "failure rate and p95 latency per tool (calls_hourly)": """
SELECT server_id, tool_name, sum(calls) AS total_calls,
       round(sum(errors) / total_calls, 4) AS failure_rate,
       quantilesMerge(0.5, 0.95, 0.99)(duration_us)[2] / 1000 AS p95_ms
FROM calls_hourly
GROUP BY server_id, tool_name ORDER BY failure_rate DESC""",
    "one user's full trail": """
SELECT event_time, event_type, server_id, tool_name, status, duration_ms, risk_level, session_id
FROM audit_events FINAL
WHERE user_id = {user:String}
ORDER BY event_time""",
    "every call of one session": """
SELECT event_time, user_id, server_id, tool_name, status, duration_ms
FROM audit_events FINAL
WHERE session_id = {session:String}
ORDER BY event_time""",
}


def _query_times(client: Client, runs: int = 5) -> list[tuple[str, list[float], int]]:
    """Each analyst query's times (ms) over ``runs`` runs, and how many rows it returned."""
    user, session = client.query(
        "SELECT user_id, session_id FROM audit_events WHERE event_time > now() - INTERVAL 1 DAY"
        " LIMIT 1"
    ).result_rows[0]
    parameters = {"user": user, "session": session}
    timed = []
    for name, sql in ANALYST_QUERIES.items():
        times, returned = [], 0
        for _ in range(runs):
            started = time.perf_counter()
            result = client.query(sql, parameters=parameters, settings=QUERY_SETTINGS)
            returned = len(result.result_rows)
            times.append((time.perf_counter() - started) * 1000)
        timed.append((name, times, returned))
    return timed


def _storage(client: Client) -> tuple[float, float, list[list[str]]]:
    total, compressed = client.query(
        "SELECT sum(rows), sum(data_compressed_bytes) FROM system.parts"
        " WHERE database = currentDatabase() AND table = 'audit_events' AND active"
    ).result_rows[0]
    heavy = client.query(
        "SELECT name, data_compressed_bytes FROM system.columns WHERE database = currentDatabase()"
        " AND table = 'audit_events' ORDER BY data_compressed_bytes DESC LIMIT 8"
    ).result_rows
    digests = sum(size for name, size in heavy if name in ("hash", "prev_hash", "args_digest"))
    rows = [[name, f"{size / total:.1f}"] for name, size in heavy]
    return compressed / total, (compressed - digests) / total, rows


def _generate_unmerged(client: Client) -> None:
    """The rows in time order, one insert per slice as a sink writes them, none merged yet."""
    client.command("SYSTEM STOP MERGES audit_events")
    size = QUERY_ROWS // QUERY_SLICES
    for start in range(0, QUERY_ROWS, size):
        client.command(
            generate_rows_sql(QUERY_ROWS, start, size),
            settings={"max_insert_threads": 2, "optimize_on_insert": 0},
        )


def _query_section(url: str) -> str:
    client = connect(url, "bench_queries")
    apply_migrations(client)
    started = time.monotonic()
    _generate_unmerged(client)
    parts = client.query(
        "SELECT count() / uniq(partition) FROM system.parts"
        " WHERE database = currentDatabase() AND table = 'audit_events' AND active"
    ).result_rows[0][0]
    before = _query_times(client, runs=3)
    client.command("SYSTEM START MERGES audit_events")
    client.command("OPTIMIZE TABLE audit_events FINAL")
    generated = time.monotonic() - started
    rows = [
        [name, f"{statistics.median(early):.0f}", f"{statistics.median(times):.0f}",
         f"{max(times):.0f}", str(returned)]
        for (name, early, _), (_, times, returned) in zip(before, _query_times(client), strict=True)
    ]  # fmt: skip
    per_event, without_digests, heavy = _storage(client)
    return (
        f"### Analyst queries on {QUERY_ROWS:,} events (goal: each <= 300 ms)\n\n"
        f"Rows generated in SQL in {QUERY_SLICES} inserts in time order (as a sink writes"
        f" them: {parts:.1f} parts per partition), timed (median of 3) before any"
        f" merge, then merged (`OPTIMIZE ... FINAL`) and timed again (median and worst of 5);"
        f" {generated:.0f} s in all. Through clickhouse-connect on embedded chDB, `FINAL`"
        " included, with the read-only connection's settings"
        " (`readside.guard.QUERY_SETTINGS`).\n\n"
        + table(QUERY_HEADERS, rows)
        + f"\n\n### Storage\n\nOn-disk bytes per event, compressed: **{per_event:.1f}** "
        f"(goal: <= 40); {without_digests:.1f} without the three SHA-256 hex columns "
        "(`hash`, `prev_hash`, `args_digest`: random, 32 bytes each whatever the codec). "
        "Heaviest columns, bytes per event:\n\n" + table(["column", "bytes/event"], heavy)
    )


def _broker_and_topic(tmp: str) -> tuple[EmbeddedBroker, KafkaSettings]:
    broker = EmbeddedBroker(port=free_port(), log_path=Path(tmp) / "broker.log").start()
    suffix = uuid.uuid4().hex[:6]
    kafka = KafkaSettings.load(
        environ={}, bootstrap_servers=broker.bootstrap_servers, partitions=3,
        topic_raw=f"raw-{suffix}", topic_enriched=f"enriched-{suffix}",
        topic_alerts=f"alerts-{suffix}", topic_dead_letter=f"dlq-{suffix}",
    )  # fmt: skip
    ensure_topics(kafka)
    return broker, kafka


def sealing_main(rows: int = FAST_ROWS) -> str:
    """Only the sealing overhead on ingestion: ``python -m bench.bench_sink sealing``."""
    with tempfile.TemporaryDirectory() as tmp:
        broker, kafka = _broker_and_topic(tmp)
        try:
            _produce(kafka, encoded_events(rows))
            runs = sealing_overhead(kafka, f"chdb://{tmp}/chdb", rows)
        finally:
            broker.stop()
    return _sealing_text(rows, runs)


def _sealing_text(rows: int, runs: SealingRuns) -> str:
    without, sealed = runs.medians()
    each = "; ".join(f"{a:,.0f} / {b:,.0f}" for a, b in zip(runs.without, runs.sealed, strict=True))
    busy = ", ".join(f"{sum(log.cycles_s):.1f}" for log in runs.sealers)
    catch_up = ", ".join(f"{log.catch_up_s:.1f}" for log in runs.sealers)
    overheads = runs.pair_overheads()
    pairs = ", ".join(f"{o:+.1f}%" for o in overheads)
    median_pair = statistics.median(overheads)
    cpu_without, cpu_sealed = (
        statistics.median(runs.cpu_without),
        statistics.median(runs.cpu_sealed),
    )
    return (
        f"### Sealing during ingestion\n\nThe sink on {rows:,} rows, alone and with the sealer"
        f" cycling every {SEAL_EVERY_S:g} s on the same store (runs alternated, median of"
        f" {len(runs.without)}): {without:,.0f} rows/s without, {sealed:,.0f} with: ingestion"
        f" time **{(without / sealed - 1) * 100:+.1f}%** (goal: <= +5%). Each pair, without /"
        f" with: {each}; time added per pair: {pairs} (median **{median_pair:+.1f}%**). Sealer"
        f" busy per run with it, s: {busy}; every row appended this long after the sink's"
        f" last batch, s: {catch_up}. CPU seconds of the process over the ingestion"
        f" (median): {cpu_without:.2f} without, {cpu_sealed:.2f} with"
        f" ({(cpu_sealed / cpu_without - 1) * 100:+.1f}%)."
    )


def main() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "broker.log"
        with EmbeddedBroker(port=free_port(), log_path=log) as broker:
            suffix = uuid.uuid4().hex[:6]
            kafka = KafkaSettings.load(
                environ={}, bootstrap_servers=broker.bootstrap_servers, partitions=3,
                topic_raw=f"raw-{suffix}", topic_enriched=f"enriched-{suffix}",
                topic_alerts=f"alerts-{suffix}", topic_dead_letter=f"dlq-{suffix}",
            )  # fmt: skip
            ensure_topics(kafka)
            url = f"chdb://{tmp}/chdb"
            values = encoded_events(FAST_ROWS)
            _produce(kafka, values)
            fast, with_join, _ = _sink_rate(kafka, url, FAST_ROWS)
            naive = _naive_rate(kafka, url, NAIVE_ROWS)
            ceiling = _consume_only_rate(kafka, FAST_ROWS)
            insert_only = _insert_only_rate(url, values)
            runs = sealing_overhead(kafka, url, FAST_ROWS)
        queries = _query_section(url)
    rows = [
        ["sink: ClickHouse decodes Avro", f"{FAST_ROWS:,}", f"{fast:,.0f}", f"{fast / naive:.1f}x"],
        ["naive: fastavro per row + insert (baseline)", f"{NAIVE_ROWS:,}", f"{naive:,.0f}", "1.0x"],
        ["reading the topic only, storing nothing (ceiling)", f"{FAST_ROWS:,}",
         f"{ceiling:,.0f}", f"{ceiling / naive:.1f}x"],
        ["chDB INSERT alone, files made in advance (ceiling)", f"{FAST_ROWS:,}",
         f"{insert_only:,.0f}", f"{insert_only / naive:.1f}x"],
    ]  # fmt: skip
    return (
        "## Sink\n\n### Ingestion, enriched topic -> chDB (goal: >= 200,000 rows/s)\n\n"
        + table(["path", "rows", "rows/s", "vs baseline"], rows)
        + f"\n\nIncluding the consumer group join: {with_join:,.0f} rows/s. "
        f"Batches of {BATCH:,} rows, 3 partitions.\n\n"
        + _sealing_text(FAST_ROWS, runs)
        + "\n\n"
        + queries
    )


if __name__ == "__main__":
    import sys

    print(sealing_main() if sys.argv[1:] == ["sealing"] else main())
