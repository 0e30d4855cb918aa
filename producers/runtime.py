"""The process-wide Auditor: built from settings on first use, closed at exit.

:func:`get_auditor` returns None when the producer is disabled (integrations
then call straight through) or when it could not start (logged and counted
once; auditing must never break the server). :func:`configure` replaces the
current Auditor, e.g. in tests or when a server wants explicit settings.

Importing this module is cheap on purpose: :mod:`producers.decorator` imports it,
and an MCP server imports the decorator at startup. The settings (pydantic and
pydantic-settings), the Kafka client and the encoder are imported by the first
:func:`get_auditor` (or :func:`configure`): about 0.23 s of CPU on the first audited
call instead of at every import (docs/benchmarks.md, "The light producer install");
a server that wants that cost at startup calls :func:`configure` there.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from producers.auditor import Auditor
    from producers.settings import ProducerSettings
    from schemas.kafka import KafkaSettings

log = logging.getLogger("producers")
_lock = threading.Lock()
_auditor: Auditor | None = None
_loaded = False
_failure: Exception | None = None  # why the producer could not start, when it refuses calls
_ON_START_FAILURE = "MCP_AUDIT_PRODUCER_ON_START_FAILURE"


def build_auditor(settings: ProducerSettings, kafka: KafkaSettings) -> Auditor:
    """A started Auditor for these settings (raises McpAuditError on bad configuration)."""
    # Here, not at the top: see the module docstring (the import path stays light).
    from producers.auditor import Auditor
    from producers.privacy.payload import Minimiser
    from producers.privacy.policy import load_policy
    from producers.privacy.pseudonym import (
        Pseudonymiser,
        ValueDigester,
        check_apart,
        ephemeral,
        ephemeral_digester,
        load_key,
    )
    from producers.privacy.redact import Redactor
    from producers.transport.counters import Counters
    from producers.transport.publisher import Publisher
    from producers.transport.spool import Spool
    from schemas.integrity import read_origin_key

    key = load_key(env_var=settings.hmac_key_env, key_file=settings.hmac_key_file)
    if key is None:
        log.warning("no HMAC key configured: pseudonyms link only within this process")
    pseudonymiser = Pseudonymiser(key, settings.hmac_key_id) if key else ephemeral()
    digest_key = load_key(
        env_var=settings.value_digest_key_env, key_file=settings.value_digest_key_file
    )
    origin = None
    if settings.origin_key_file is not None:
        origin = read_origin_key(settings.origin_key_file, settings.origin_key_id)
    else:
        log.warning("no origin key configured: processors that check origin refuse these events")
    check_apart(key, digest_key, origin.key if origin else None)
    if digest_key is None:
        log.warning("no value digest key configured: no one can check a value against its digest")
    digester = (
        ValueDigester(digest_key, settings.value_digest_key_id)
        if digest_key
        else ephemeral_digester()
    )
    redactor = Redactor(
        max_string=settings.max_string,
        max_depth=settings.max_depth,
        extra_patterns=settings.redact_patterns,
    )
    counters = Counters()
    spool = Spool(settings.spool_dir, max_bytes=settings.spool_max_bytes, fsync=settings.fsync)
    publisher = Publisher(settings, kafka, counters, spool)
    auditor = Auditor(
        server_id=settings.server_id,
        server_version=settings.server_version,
        policy=load_policy(settings.policy_file),
        pseudonymiser=pseudonymiser,
        minimiser=Minimiser(redactor, settings.max_event_bytes, digester),
        publisher=publisher,
        counters=counters,
        heartbeat_interval_s=settings.heartbeat_interval_s,
        origin=origin,
    )
    publisher.start(on_tick=auditor.heartbeat)
    if kafka.schema_registry_url:  # Confluent framing once the registry answers
        auditor.sealer.frame_with_registry(kafka.schema_registry_url, kafka.topic_raw)
    return auditor


def configure(
    settings: ProducerSettings | None = None, kafka: KafkaSettings | None = None
) -> Auditor | None:
    """Replace the process-wide Auditor (closing the old one); None when disabled."""
    global _auditor, _loaded, _failure
    if settings is None:
        from producers.settings import ProducerSettings

        settings = ProducerSettings.load()
    with _lock:
        old, _auditor, _loaded, _failure = _auditor, None, True, None
        if old is not None:
            old.close()
        if settings.enabled:
            if kafka is None:
                from schemas.kafka import KafkaSettings

                kafka = KafkaSettings.load()
            _auditor = build_auditor(settings, kafka)
        return _auditor


def refuses_when_unstarted(environ: Mapping[str, str] | None = None) -> bool:
    """Whether ``MCP_AUDIT_PRODUCER_ON_START_FAILURE`` asks to refuse calls while the
    producer cannot start. Read from the environment itself, not the settings: it must
    hold when the settings are what failed. Any value but ``run_unaudited`` (or none)
    refuses, so a misspelt value fails closed."""
    value = (os.environ if environ is None else environ).get(_ON_START_FAILURE)
    return value is not None and value.strip().lower() != "run_unaudited"


def get_auditor() -> Auditor | None:
    """The process-wide Auditor, built from the environment on first call.

    When it cannot start: None (calls run unaudited, logged once), or, configured with
    ``MCP_AUDIT_PRODUCER_ON_START_FAILURE=refuse``, :class:`AuditUnavailable` on this
    and every later call until :func:`configure` or :func:`shutdown`."""
    global _loaded, _failure
    if _loaded:
        if _failure is not None:
            raise _refusal(_failure)
        return _auditor
    try:
        return configure()
    except Exception as error:
        # Once: a bad setting must not cost every later call another load and log.
        _loaded = True
        if refuses_when_unstarted():
            log.exception("mcp-audit producer could not start; audited calls are refused")
            _failure = error
            raise _refusal(error) from error
        log.exception("mcp-audit producer could not start; calls run unaudited")
        return None


def _refusal(error: Exception) -> Exception:
    from producers.errors import AuditUnavailable

    refused = AuditUnavailable(
        "mcp-audit producer could not start and is configured to refuse unaudited calls"
        f" ({_ON_START_FAILURE}); fix its configuration: {error}",
        cause=type(error).__name__,
    )
    refused.__cause__ = error
    return refused


def shutdown(timeout_s: float = 10.0) -> None:
    """Flush (up to ``timeout_s``; the rest is spooled) and close the process-wide Auditor.

    The next get_auditor() builds a new one."""
    global _auditor, _loaded, _failure
    with _lock:
        old, _auditor, _loaded, _failure = _auditor, None, False, None
    if old is not None:
        old.close(timeout_s)


atexit.register(shutdown)
