"""Sealed events to Kafka without making a caller wait: publisher, disk spool, replay, counters.

:mod:`.publisher` owns the I/O thread; what the broker cannot take yet goes to the
:mod:`.spool` and comes back through :mod:`.replay`; :mod:`.counters` is what the
heartbeats report.
"""
