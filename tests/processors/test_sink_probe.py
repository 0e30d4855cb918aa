"""The sink's lag measured on the real broker: a real consumer in the sink's group commits part
of the enriched topic, and the probe reports the waiting events and the age of the oldest."""

from __future__ import annotations

import time

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition

from processors.errors import SinkLagError
from processors.sink_probe import SinkLagProbe
from processors.watch.sink_lag import SinkLag, SinkLagWatch
from schemas.kafka import KafkaSettings

pytestmark = pytest.mark.broker
GROUP = "sink-under-test"


def _produce(kafka: KafkaSettings, ages_s: dict[int, list[float]], *, one_batch: bool) -> int:
    """Messages on the enriched topic timestamped ``ages_s`` ago per partition; returns now (ms).

    ``one_batch=False`` flushes each message alone, so every watermark is exact on Tansu too.
    """
    producer = Producer({**kafka.client_config(), "linger.ms": 50})
    now_ms = int(time.time() * 1000)
    for partition, ages in ages_s.items():
        for age in ages:
            timestamp = now_ms - int(age * 1000)
            producer.produce(kafka.topic_enriched, b"e", partition=partition, timestamp=timestamp)
            if not one_batch:
                assert producer.flush(10) == 0
    assert producer.flush(10) == 0
    return now_ms


def _sink_commits(kafka: KafkaSettings, offsets: dict[int, int]) -> None:
    """The sink's group commits ``offsets`` (the next offset to store per partition), as the
    sink does once ClickHouse took a batch; assigned, not subscribed, so no join to wait for."""
    sink = Consumer({**kafka.client_config(), "group.id": GROUP, "enable.auto.commit": False})
    try:
        committed = [TopicPartition(kafka.topic_enriched, p, o) for p, o in offsets.items()]
        sink.assign(committed)
        sink.commit(offsets=committed, asynchronous=False)
    finally:
        sink.close()


def _probe(kafka: KafkaSettings) -> SinkLagProbe:
    return SinkLagProbe(
        kafka.client_config(), kafka.topic_enriched, GROUP, probe_group="probe-under-test"
    )


def test_waiting_events_are_counted_and_aged_and_alerted(kafka_settings: KafkaSettings) -> None:
    now_ms = _produce(
        kafka_settings, {0: [600, 599, 598, 597], 1: [120, 119], 2: [5, 4, 3]}, one_batch=False
    )
    _sink_commits(kafka_settings, {0: 2, 1: 2, 2: 1})  # partition 1 fully stored
    lag = _probe(kafka_settings).measure(now_ms)
    # Oldest waiting: partition 0's third event, 598 s old.
    assert lag == SinkLag(partitions=2, messages=2 + 2, seconds=598.0)
    finding = SinkLagWatch(max_lag_s=300, group=GROUP).check(lag)
    assert finding is not None and finding.attributes["seconds_behind"] == "598"


def test_a_group_that_committed_nothing_counts_from_the_earliest_event(
    kafka_settings: KafkaSettings,
) -> None:
    now_ms = _produce(kafka_settings, {0: [30], 2: [700, 10]}, one_batch=False)
    assert _probe(kafka_settings).measure(now_ms) == SinkLag(2, 3, 700.0)


def test_a_sink_that_stored_everything_has_no_lag(kafka_settings: KafkaSettings) -> None:
    now_ms = _produce(kafka_settings, {0: [900, 800], 1: [700]}, one_batch=False)
    _sink_commits(kafka_settings, {0: 2, 1: 1, 2: 0})
    lag = _probe(kafka_settings).measure(now_ms)
    assert lag == SinkLag(0, 0, 0.0)
    assert SinkLagWatch(max_lag_s=300, group=GROUP).check(lag) is None


def test_a_sink_stopped_inside_the_last_batch_still_lags(kafka_settings: KafkaSettings) -> None:
    # Tansu's high watermark is one past the last batch's base offset, here 1: a count from it
    # alone would say the sink, at 3, is ahead. The fetched event says otherwise.
    now_ms = _produce(kafka_settings, {0: [500, 499, 498, 497, 496]}, one_batch=True)
    _sink_commits(kafka_settings, {0: 3})
    lag = _probe(kafka_settings).measure(now_ms)
    assert (lag.partitions, lag.seconds) == (1, 497.0)
    assert 1 <= lag.messages <= 2  # 2 on Kafka; at least 1 where the watermark falls short


def test_a_missing_topic_is_an_error_not_a_caught_up_sink(kafka_settings: KafkaSettings) -> None:
    probe = SinkLagProbe(
        kafka_settings.client_config(), f"{kafka_settings.topic_enriched}-gone", GROUP,
        probe_group="probe-under-test", timeout_s=2,
    )  # fmt: skip
    with pytest.raises(SinkLagError):
        probe.measure(int(time.time() * 1000))
