"""The sink falling behind as a self-watch finding (PCI-DSS 10.7.2): events enriched, not stored.

A lag measured by :mod:`processors.sink_probe` becomes one ``sink_lag`` finding
when its time exceeds ``max_lag_s``, once per episode: while the sink stays
behind, later checks say nothing more (the alert is already out); once it is
back within the limit, the next time it falls behind is a new episode and a new
finding. Lifecycle: one :class:`SinkLagWatch` in the worker that runs the
check; its state is in memory, so a restarted or newly elected checker reports
an episode still under way once more.
"""

from __future__ import annotations

from dataclasses import dataclass

from processors.detectors.base import Finding


@dataclass(frozen=True)
class SinkLag:
    """Where the sink's group stands on the enriched topic, at one check."""

    partitions: int  # partitions holding events the sink has not committed
    messages: int  # events it has not committed, over those partitions
    seconds: float  # age of the oldest of them; 0 when it is caught up


class SinkLagWatch:
    def __init__(self, max_lag_s: float, group: str) -> None:
        self.max_lag_s = max_lag_s
        self.group = group
        self._alerted = False

    def check(self, lag: SinkLag) -> Finding | None:
        """A finding when ``lag`` starts an episode over the limit, else None."""
        if lag.seconds <= self.max_lag_s:
            self._alerted = False
            return None
        if self._alerted:
            return None
        self._alerted = True
        return Finding(
            "sink_lag",
            "HIGH",
            lag.seconds,
            f"sink group {self.group} is {lag.seconds:.0f}s behind: {lag.messages} enriched "
            f"events on {lag.partitions} partition(s) not stored (limit {self.max_lag_s:.0f}s)",
            self.group,
            {
                "group": self.group,
                "partitions_lagging": str(lag.partitions),
                "messages_behind": str(lag.messages),
                "seconds_behind": f"{lag.seconds:.0f}",
            },
        )
