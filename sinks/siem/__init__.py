"""The SIEM forwarder: alerts from the alerts topic to a SIEM webhook as OCSF JSON.

Optional and separate from the ClickHouse sink (its own consumer group and
command, ``mcp-audit siem``): :mod:`.ocsf` maps an alert, :mod:`.webhook` makes
one HTTP request, :mod:`.delivery` retries and isolates rejected records,
:mod:`.forwarder` consumes, delivers and commits.
"""
