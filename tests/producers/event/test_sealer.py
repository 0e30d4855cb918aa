"""The sealer numbers, chains and identifies events the same way compiled and in Python.

Byte-for-byte agreement with fastavro and the contract's chain hash is in
test_encoder.py; here: what only a stream can get wrong (threads, forks,
refusals) and that the compiled sealer is really built where it can be.
"""

from __future__ import annotations

import os
import re
import shutil
import sysconfig
import threading
import time
import uuid
from pathlib import Path

import pytest
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext

from mcp_audit.embedded.broker import free_port
from producers import api, runtime
from producers.event.model import Actor, CallEvent, Compliance, Outcome, Producer, Target, to_avro
from producers.event.sealer import NATIVE, Sealer
from schemas import registry
from schemas.integrity import chain_hash
from schemas.kafka import KafkaSettings
from schemas.repair import ALTERED_KEY
from schemas.wire import Deserializer, registry_client
from tests.producers.conftest import COMPILED_ONLY, consume, producer_settings
from tests.schemas.oracle import official_decode

UUID7 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def _event(phase: str = "ATTEMPT", status: str | None = None, call_id: str = "") -> CallEvent:
    return CallEvent(
        "TOOL_CALL", phase, call_id, Actor("p" * 64, "k1", "client"),
        Target("srv", "1.0", tool_name="read_file"), Producer("host", 1, "0.1", "decorator"),
        Compliance(), ("path",), '{"path":"/etc"}', "d" * 64,
        outcome=None if status is None else Outcome(status, 12),
    )  # fmt: skip


def test_the_compiled_sealer_is_built_where_a_compiler_and_openssl_are() -> None:
    # The install builds it optionally: without this, a failed build would pass every
    # other test on the Python path and only show in the benchmark.
    include = Path(sysconfig.get_paths()["include"]) / "Python.h"
    if not (shutil.which("cc") and include.exists() and Path("/usr/include/openssl").exists()):
        pytest.skip("no C compiler, Python headers or OpenSSL headers here")
    assert NATIVE


def test_an_attempt_names_its_call_and_ids_are_uuid7_of_the_event_time(native: bool) -> None:
    sealer = Sealer(native=native)
    events = [_event() for _ in range(500)]
    for event in events:
        sealer.seal(event)
    ids = [e.event_id for e in events]
    assert all(UUID7.fullmatch(i) for i in ids)
    assert len(set(ids)) == len(ids)
    assert all(e.call_id == e.event_id for e in events)
    millis = [int(e.event_id[:8] + e.event_id[9:13], 16) for e in events]
    assert millis == [e.event_time_us // 1000 for e in events]
    times = [e.event_time_us for e in events]
    assert times == sorted(times)


def test_a_refused_event_leaves_no_gap_in_the_chain(native: bool) -> None:
    sealer = Sealer(native=native)
    first = _event()
    sealer.seal(first)
    with pytest.raises((ValueError, KeyError)):
        sealer.seal(_event("RESULT", status="NOT-A-STATUS", call_id=first.call_id))
    assert sealer.seq == 1
    after = _event("RESULT", status="SUCCESS", call_id=first.call_id)
    decoded = Deserializer("AuditEvent")(sealer.seal(after))
    assert decoded["integrity"]["seq"] == 2
    assert decoded["integrity"]["prev_hash"] == first.hash
    assert chain_hash(first.hash, decoded) == after.hash


def test_threads_sealing_at_once_number_every_event_once_in_one_chain(native: bool) -> None:
    sealer = Sealer(native=native)
    sealed: list[CallEvent] = []

    def work() -> None:
        mine = [_event() for _ in range(2000)]
        for event in mine:
            sealer.seal(event)
        sealed.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sealed.sort(key=lambda e: e.seq)
    assert [e.seq for e in sealed] == list(range(1, 8001))
    assert [e.prev_hash for e in sealed] == ["", *(e.hash for e in sealed[:-1])]


def test_a_forked_child_makes_other_ids_than_its_parent(native: bool) -> None:
    sealer = Sealer(native=native)
    sealer.seal(_event())  # the random state exists before the fork
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: seal, report ids, exit without running pytest's teardown
        try:
            events = [_event() for _ in range(50)]
            for event in events:
                sealer.seal(event)
            os.write(write, "\n".join(e.event_id for e in events).encode())
        finally:
            os._exit(0)
    os.close(write)
    events = [_event() for _ in range(50)]
    for event in events:
        sealer.seal(event)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split("\n"))
    os.waitpid(pid, 0)
    assert len(child) == 50
    # Ids of the same millisecond share their time prefix; the random tails must differ.
    assert not child & {e.event_id for e in events}
    assert not {i[15:] for i in child} & {e.event_id[15:] for e in events}


def test_a_lone_surrogate_and_numbers_out_of_range_are_repaired_not_refused(
    native: bool,
) -> None:
    # The cases: a resource URI from surrogateescape, redactions of 2**31, a pid
    # of 2**32 (Avro ints), a duration of 2**63 (past an Avro long).
    event = _event("RESULT", status="SUCCESS", call_id="c1")
    event.event_type, event.target = "RESOURCE_READ", Target("srv", resource_uri="db://x\ud800")
    event.producer, event.redactions = Producer("host", 2**32, "0.1", "decorator"), 2**31
    assert event.outcome is not None
    event.outcome.duration_us = 2**63
    data = Sealer(native=native).seal(event)
    decoded = official_decode(data, "AuditEvent")  # the official reader refused it before
    assert decoded["target"]["resource_uri"] == "db://x\ufffd"
    assert decoded["payload"]["redactions"] == 2**31 - 1
    assert decoded["context"]["producer"]["pid"] == 2**31 - 1
    assert decoded["outcome"]["duration_us"] == 2**63 - 1
    assert decoded["attributes"] == {
        ALTERED_KEY: "target.resource_uri,payload.redactions,outcome.duration_us,"
        "context.producer.pid"
    }
    assert chain_hash("", Deserializer("AuditEvent")(data)) == event.hash


@COMPILED_ONLY
def test_compiled_and_python_agree_on_lone_surrogates_and_long_texts() -> None:
    for call_id in ("\ud800x", "é" * 3000, ""):
        compiled, python = Sealer("s", native=True), Sealer("s", native=False)
        twin = [_event("RESULT", status="ERROR", call_id=call_id) for _ in range(2)]
        for event in twin:
            event.result_json = "\udfff" + "r" * 5000  # past the compiled buffer's first size
        data = compiled.seal(twin[0])
        python.seal(twin[1])
        twin[1].event_id, twin[1].event_time_us = twin[0].event_id, twin[0].event_time_us
        twin[1].hash = twin[0].hash
        assert python.encoder(twin[1]) == data
        assert official_decode(data, "AuditEvent")["payload"]["result_json"][0] == "\ufffd"
        assert chain_hash(twin[0].prev_hash, to_avro(twin[0])) == twin[0].hash


def _framed_by_registry(sealer: Sealer, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while sealer.header[0] != 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    return sealer.header[0] == 0


def test_with_a_registry_events_are_framed_as_confluents_own_reader_reads(native: bool) -> None:
    # mock:// is confluent-kafka's own in-process test double of a Schema Registry (no
    # registry service runs here); its store lives in the client, which the sealer and
    # the reader share through schemas.wire.registry_client, as they would a registry.
    url, topic = f"mock://{uuid.uuid4().hex}", "raw"
    sealer = Sealer(native=native)
    sealer.frame_with_registry(url, topic)
    assert _framed_by_registry(sealer)
    event = _event()
    data = sealer.seal(event)
    schema_id = registry_client(url).get_latest_version(f"{topic}-value").schema_id
    assert data[:5] == b"\x00" + schema_id.to_bytes(4, "big")
    theirs = AvroDeserializer(registry_client(url))(
        data, SerializationContext(topic, MessageField.VALUE)
    )
    assert theirs == Deserializer("AuditEvent", url)(data)
    assert theirs["event_id"] == event.event_id
    assert chain_hash("", theirs) == event.hash
    fingerprint = registry.current("AuditEvent").fingerprint
    official_decode(data, "AuditEvent", {schema_id: fingerprint})


def test_a_registry_down_at_start_neither_blocks_nor_breaks_a_seal(native: bool) -> None:
    # Nothing listens on the port: each ask is refused. The seals go on at once, in
    # single-object framing, which every reader of the pipeline reads.
    sealer = Sealer(native=native)
    sealer.frame_with_registry(f"http://127.0.0.1:{free_port()}", "raw")
    started = time.monotonic()
    blobs = [sealer.seal(_event()) for _ in range(100)]
    assert time.monotonic() - started < 0.5
    time.sleep(0.3)  # the first ask has failed by now
    blobs.append(sealer.seal(_event()))
    assert all(b[:10] == b"\xc3\x01" + registry.current("AuditEvent").fingerprint for b in blobs)
    assert [Deserializer("AuditEvent")(b)["integrity"]["seq"] for b in blobs] == list(range(1, 102))
    started = time.monotonic()
    sealer.close()
    assert time.monotonic() - started < 2


@pytest.mark.broker
def test_an_auditor_with_a_registry_publishes_confluent_framing_end_to_end(
    kafka_settings: KafkaSettings, tmp_path: Path
) -> None:
    # The example too: a URI from surrogateescape reaches the topic, readable.
    url = f"mock://{uuid.uuid4().hex}"  # confluent-kafka's own test double, as above
    kafka = kafka_settings.model_copy(update={"schema_registry_url": url})
    auditor = runtime.configure(producer_settings(tmp_path), kafka)
    assert auditor is not None
    try:
        assert _framed_by_registry(auditor.sealer)
        api.resource_accessed("db://x\ud800")
        assert auditor.publisher.flush(10) == 0
        [message] = consume(kafka, 1, raw=True, timeout_s=10)
    finally:
        runtime.shutdown()
    theirs = AvroDeserializer(registry_client(url))(
        message.value(), SerializationContext(kafka.topic_raw, MessageField.VALUE)
    )
    assert theirs["target"]["resource_uri"] == "db://x\ufffd"
    assert theirs["attributes"][ALTERED_KEY] == "target.resource_uri,lineage.sources"
