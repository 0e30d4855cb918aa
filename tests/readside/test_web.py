"""Where the read side's HTTP doors may listen: loopback, or a container's every interface
when asked for explicitly, never one address of the host."""

from __future__ import annotations

import pytest

from readside.errors import RequestRefusedError
from readside.web import require_loopback


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "localhost", "::1", "[::1]"])
def test_loopback_is_served_with_or_without_the_container_setting(host: str) -> None:
    require_loopback(host, "dashboard")
    require_loopback(host, "dashboard", container_bind=True)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "[::]"])
def test_every_interface_is_refused_unless_asked_for_and_the_refusal_says_how(host: str) -> None:
    with pytest.raises(RequestRefusedError) as refused:
        require_loopback(host, "dashboard")
    assert refused.value.fields["reason"] == "not-loopback"
    assert "MCP_AUDIT_READ_CONTAINER_BIND" in str(refused.value)
    require_loopback(host, "dashboard", container_bind=True)


@pytest.mark.parametrize("host", ["192.0.2.10", "2001:db8::1", "dashboard.example", "", "0"])
def test_one_address_of_the_host_stays_refused_even_with_the_container_setting(
    host: str,
) -> None:
    for container_bind in (False, True):
        with pytest.raises(RequestRefusedError, match="dashboard"):
            require_loopback(host, "dashboard", container_bind=container_bind)
