"""Delivery against a real HTTP server on loopback (http.server in a thread, not a mock).

Retries what may pass (5xx, timeouts, no listener) honouring Retry-After, finds the one
record a batch was rejected for, stops on a refusal of the forwarder itself, never
follows a redirect, and never lets the token out.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from mcp_audit.embedded.broker import free_port
from sinks.errors import SiemRefusedError, SiemUnavailableError
from sinks.siem.delivery import WebhookDelivery
from sinks.siem.ocsf import to_ocsf
from sinks.siem.settings import SiemSettings
from sinks.siem.webhook import Reply, Verdict, Webhook, retry_after_s
from tests.schemas.factories import alert
from tests.sinks.siem.loopback_siem import LoopbackSiem

pytestmark = pytest.mark.timeout(60)
TOKEN = "s3cret-token-value"


def settings(url: str, **overrides: Any) -> SiemSettings:
    values: dict[str, Any] = {
        "webhook_url": url,
        "auth_token": TOKEN,
        "backoff_base_s": 0.01,
        "backoff_cap_s": 0.05,
        "timeout_s": 5.0,
        **overrides,
    }
    return SiemSettings.load(environ={}, **values)


def sleeping(seconds: float) -> bool:
    time.sleep(seconds)
    return True


def documents(n: int) -> list[dict[str, Any]]:
    """Real OCSF documents: the loopback SIEM judges what it receives."""
    return [to_ocsf(alert(alert_id=f"alert-{i}")) for i in range(n)]


def uids(found: list[dict[str, Any]]) -> list[str]:
    return [d["metadata"]["uid"] for d in found]


def test_unavailable_then_accepted_honours_retry_after() -> None:
    def answer(docs: list[dict[str, Any]], index: int) -> tuple[int, dict[str, str]]:
        if index == 0:
            return 503, {"Retry-After": "1"}
        return (503, {}) if index < 3 else (200, {})

    with LoopbackSiem(answer).running() as siem:
        delivery = WebhookDelivery(Webhook(settings(siem.url)), settings(siem.url), sleeping)
        assert delivery.deliver(documents(5)) == []

    assert [r.status for r in siem.requests] == [503, 503, 503, 200]
    assert siem.requests[1].at - siem.requests[0].at >= 0.95  # Retry-After: 1, not 0.01 s
    assert uids(siem.accepted()) == uids(documents(5))
    assert siem.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"
    assert siem.requests[0].headers["Content-Type"] == "application/json"


def test_one_rejected_record_is_found_and_the_others_delivered_once_in_order() -> None:
    def answer(docs: list[dict[str, Any]], index: int) -> tuple[int, dict[str, str]]:
        return (400, {}) if "alert-5" in uids(docs) else (200, {})

    with LoopbackSiem(answer).running() as siem:
        delivery = WebhookDelivery(Webhook(settings(siem.url)), settings(siem.url), sleeping)
        rejected = delivery.deliver(documents(8))

    assert rejected is not None and [index for index, _ in rejected] == [5]
    assert rejected[0][1].startswith("HTTP 400")
    assert uids(siem.accepted()) == [f"alert-{i}" for i in range(8) if i != 5]
    assert delivery.requests <= 8  # halves, not one request per record


def test_batches_are_at_most_batch_size_in_order() -> None:
    with LoopbackSiem().running() as siem:
        config = settings(siem.url, batch_size=3)
        assert WebhookDelivery(Webhook(config), config, sleeping).deliver(documents(7)) == []

    assert [len(r.documents) for r in siem.requests] == [3, 3, 1]
    assert uids(siem.accepted()) == uids(documents(7))


def test_ndjson_body_is_one_object_per_line() -> None:
    with LoopbackSiem().running() as siem:
        config = settings(siem.url, body_format="ndjson")
        assert WebhookDelivery(Webhook(config), config, sleeping).deliver(documents(3)) == []

    assert siem.requests[0].headers["Content-Type"] == "application/x-ndjson"
    assert uids(siem.accepted()) == uids(documents(3))


def test_a_timeout_is_retried() -> None:
    def answer(docs: list[dict[str, Any]], index: int) -> tuple[int, dict[str, str]]:
        if index == 0:
            time.sleep(1.0)  # longer than the client's timeout
        return 200, {}

    with LoopbackSiem(answer).running() as siem:
        config = settings(siem.url, timeout_s=0.3)
        assert WebhookDelivery(Webhook(config), config, sleeping).deliver(documents(1)) == []
        assert siem.count() >= 2


def test_no_listener_is_retried_up_to_max_retries_then_stops_uncommitted() -> None:
    config = settings(f"http://127.0.0.1:{free_port()}/", max_retries=2)

    with pytest.raises(SiemUnavailableError) as caught:
        WebhookDelivery(Webhook(config), config, sleeping).deliver(documents(1))

    assert caught.value.fields["attempts"] == 3


def test_unauthorized_stops_the_forwarder_and_the_token_stays_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def answer(docs: list[dict[str, Any]], index: int) -> tuple[int, dict[str, str]]:
        return (503, {}) if index == 0 else (401, {})

    caplog.set_level(logging.DEBUG)
    with LoopbackSiem(answer).running() as siem:
        config = settings(siem.url)
        with pytest.raises(SiemRefusedError) as caught:
            WebhookDelivery(Webhook(config), config, sleeping).deliver(documents(2))

    assert caught.value.fields["status"] == 401
    assert TOKEN not in str(caught.value) and TOKEN not in caplog.text
    assert TOKEN not in repr(config)
    assert caplog.records  # the 503 was logged, without the token


def test_a_redirect_is_not_followed() -> None:
    with LoopbackSiem(lambda docs, index: (307, {"Location": "/elsewhere"})).running() as siem:
        config = settings(siem.url)
        with pytest.raises(SiemRefusedError):
            WebhookDelivery(Webhook(config), config, sleeping).deliver(documents(1))
        assert siem.count() == 1


def test_stopped_while_waiting_delivers_nothing_more() -> None:
    with LoopbackSiem(lambda docs, index: (503, {})).running() as siem:
        config = settings(siem.url)
        stopped = WebhookDelivery(Webhook(config), config, lambda seconds: False)
        assert stopped.deliver(documents(2)) is None
        assert siem.count() == 1


def test_the_token_is_cut_out_of_an_echoing_answer() -> None:
    config = settings("https://siem.example/ingest")
    webhook = Webhook(config)
    assert TOKEN not in webhook._redact(f"bad header Authorization: Bearer {TOKEN}")


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (200, Verdict.ACCEPTED),
        (204, Verdict.ACCEPTED),
        (None, Verdict.RETRY),
        (408, Verdict.RETRY),
        (429, Verdict.RETRY),
        (500, Verdict.RETRY),
        (503, Verdict.RETRY),
        (400, Verdict.REJECTED),
        (413, Verdict.REJECTED),
        (422, Verdict.REJECTED),
        (301, Verdict.REFUSED),
        (401, Verdict.REFUSED),
        (403, Verdict.REFUSED),
        (404, Verdict.REFUSED),
    ],
)
def test_verdicts(status: int | None, verdict: Verdict) -> None:
    assert Reply(status).verdict is verdict


def test_retry_after_in_seconds_or_as_a_date() -> None:
    later = datetime.now(UTC) + timedelta(seconds=30)
    assert retry_after_s("7") == 7.0
    assert 25 <= (retry_after_s(format_datetime(later, usegmt=True)) or 0) <= 30
    assert retry_after_s("soon") is None
    assert retry_after_s(None) is None
