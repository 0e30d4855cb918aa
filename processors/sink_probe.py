"""How far the sink's consumer group is behind on the enriched topic, read from Kafka alone.

The sink commits offsets only after ClickHouse accepted a batch, so its group's
committed offset on a partition is where the stored events end. Per partition
the probe reads that offset with an admin request (it never joins the sink's
group, so the sink's assignment is never disturbed) and fetches the one
message there with a consumer of its own, assigned, never committing. A
message there is the oldest event not stored yet, and its timestamp says since
when; the end of the partition says the sink is caught up. A group that has
committed nothing counts from the earliest message.

Why fetch rather than trust the high watermark: Tansu (the embedded broker)
reports it one past the *base* offset of the last batch, so a sink stopped
inside the last batch would look caught up. The watermark still gives the count
(at least one where a message waits, so on Tansu it can be short by a batch).

Blocking (librdkafka): run it in a thread. Each :meth:`SinkLagProbe.measure`
opens its clients and closes them: it runs every ``SINK_LAG_CHECK_S``, so that
costs little and leaves no clients to manage across Faust's lifecycle.
"""

from __future__ import annotations

import time
from typing import Any, cast

from confluent_kafka import (
    OFFSET_BEGINNING,
    TIMESTAMP_NOT_AVAILABLE,
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    Message,
    TopicPartition,
)
from confluent_kafka.admin import AdminClient

from processors.errors import SinkLagError
from processors.lag import positions
from processors.watch.sink_lag import SinkLag


class SinkLagProbe:
    def __init__(
        self,
        client_config: dict[str, Any],
        topic: str,
        group: str,
        *,
        probe_group: str,
        timeout_s: float = 10.0,
    ) -> None:
        """``probe_group`` names the probe's own consumer, which never joins nor commits."""
        self.client_config = client_config
        self.topic, self.group, self.timeout_s = topic, group, timeout_s
        self.consumer_config = {
            **client_config,
            "group.id": probe_group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            # An offset already deleted by retention: those events never reached the
            # store, and the earliest one left is the oldest still waiting.
            "auto.offset.reset": "earliest",
            "fetch.wait.max.ms": 50,
            # One message per partition is needed, not a prefetch of a far-behind sink's backlog.
            "max.partition.fetch.bytes": 65_536,
            "queued.max.messages.kbytes": 1024,
        }

    def measure(self, now_ms: int) -> SinkLag:
        """The sink group's lag at ``now_ms``; raises :class:`SinkLagError` when unknowable."""
        consumer = Consumer(self.consumer_config)
        try:
            partitions = self._partitions(consumer)
            heads = self._heads(consumer, self._committed(partitions))
            behind = self._behind(consumer, heads)
            oldest = min((ts for _, ts in heads.values() if ts is not None), default=now_ms)
            return SinkLag(len(heads), behind, max(0.0, (now_ms - oldest) / 1000))
        except (KafkaException, TimeoutError) as exc:
            raise SinkLagError(
                "the broker did not answer the sink-lag check", topic=self.topic, group=self.group
            ) from exc
        finally:
            consumer.close()

    def _partitions(self, consumer: Consumer) -> list[int]:
        metadata = consumer.list_topics(self.topic, timeout=self.timeout_s).topics.get(self.topic)
        if metadata is None or metadata.error is not None:
            raise SinkLagError("the enriched topic is not there", topic=self.topic)
        return sorted(metadata.partitions)

    def _committed(self, partitions: list[int]) -> dict[int, int]:
        """The sink group's committed offset per partition; negative where it has none."""
        request = ConsumerGroupTopicPartitions(
            self.group, [TopicPartition(self.topic, p) for p in partitions]
        )
        admin = AdminClient(self.client_config)
        futures = admin.list_consumer_group_offsets([request], request_timeout=self.timeout_s)
        answer = futures[self.group].result(timeout=self.timeout_s)
        refused = [tp.partition for tp in answer.topic_partitions if tp.error is not None]
        if refused:
            raise SinkLagError("the broker refused the sink's offsets", partitions=refused)
        return {tp.partition: tp.offset for tp in answer.topic_partitions}

    def _heads(
        self, consumer: Consumer, committed: dict[int, int]
    ) -> dict[int, tuple[int, int | None]]:
        """Per partition with an event not stored: its offset and timestamp (ms, if any)."""
        consumer.assign(
            [TopicPartition(self.topic, p, o if o >= 0 else OFFSET_BEGINNING)
             for p, o in committed.items()]
        )  # fmt: skip
        waiting, heads = set(committed), {}
        deadline = time.monotonic() + self.timeout_s
        while waiting and time.monotonic() < deadline:
            for message in consumer.consume(100, 0.1):
                partition, error = message.partition(), message.error()
                if partition not in waiting:
                    continue
                if error is None:
                    heads[partition] = (cast(int, message.offset()), _timestamp_ms(message))
                    waiting.discard(partition)
                elif error.code() == KafkaError._PARTITION_EOF:
                    waiting.discard(partition)
        if waiting:
            raise SinkLagError(
                "partitions did not answer in time", topic=self.topic, partitions=sorted(waiting)
            )
        return heads

    def _behind(self, consumer: Consumer, heads: dict[int, tuple[int, int | None]]) -> int:
        """Events not stored; at least one on each partition with a head (see above)."""
        at_heads = [TopicPartition(self.topic, p, offset) for p, (offset, _) in heads.items()]
        return sum(max(p.behind, 1) for p in positions(consumer, at_heads, self.timeout_s))


def _timestamp_ms(message: Message) -> int | None:
    kind, ms = message.timestamp()
    return None if kind == TIMESTAMP_NOT_AVAILABLE else int(ms)
