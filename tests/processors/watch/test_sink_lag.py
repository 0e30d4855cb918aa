"""The sink-lag episodes: one finding when the sink falls behind, again only after it caught up."""

from __future__ import annotations

from processors.watch.sink_lag import SinkLag, SinkLagWatch

CAUGHT_UP = SinkLag(partitions=0, messages=0, seconds=0.0)


def test_one_finding_per_episode_and_a_new_one_after_recovery() -> None:
    watch = SinkLagWatch(max_lag_s=300, group="mcp-audit-sink")
    assert watch.check(SinkLag(2, 40, 300.0)) is None  # at the limit is within it
    finding = watch.check(SinkLag(2, 50, 301.4))
    assert finding is not None
    assert (finding.detector, finding.severity, finding.subject) == (
        "sink_lag", "HIGH", "mcp-audit-sink",
    )  # fmt: skip
    assert finding.attributes == {
        "group": "mcp-audit-sink", "partitions_lagging": "2", "messages_behind": "50",
        "seconds_behind": "301",
    }  # fmt: skip
    assert watch.check(SinkLag(3, 900, 900.0)) is None  # still the same episode
    assert watch.check(CAUGHT_UP) is None
    again = watch.check(SinkLag(1, 7, 400.0))
    assert again is not None and again.attributes["messages_behind"] == "7"


def test_a_sink_within_the_limit_is_never_reported() -> None:
    watch = SinkLagWatch(max_lag_s=300, group="g")
    assert [watch.check(SinkLag(1, n, 299.0)) for n in range(5)] == [None] * 5
