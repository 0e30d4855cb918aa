"""The pipeline's self-watch (PCI-DSS 10.7.2), pure: each check is fed facts and the time.

No I/O and no Faust here, as in :mod:`processors.detectors`: what the facts are
(:mod:`.facts`, gathered per batch by the enricher), the producer streams' checks
(:mod:`.streams`), the worker's own consumer (:mod:`.stall`) and the sink's lag
(:mod:`.sink_lag`). What measures from Kafka is :mod:`processors.lag` and
:mod:`processors.sink_probe`; the Faust agent and timers that run the checks are
:mod:`processors.watch_agent`.
"""
