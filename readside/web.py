"""What every HTTP door of the read side checks before it looks at a credential.

- **Loopback only.** These servers speak plain HTTP; binding one elsewhere
  would send tokens and audit rows in clear, so :func:`require_loopback`
  refuses it (put a TLS-terminating proxy in front instead). One exception,
  asked for explicitly (``MCP_AUDIT_READ_CONTAINER_BIND``): the dashboard in a
  container listens on every interface of the container's own network, which
  only the port compose publishes on the host's 127.0.0.1 reaches; a specific
  non-loopback address stays refused even then.
- **Host.** A request whose ``Host`` is not the bound address (``127.0.0.1``,
  ``localhost`` or ``[::1]`` with the port) is refused: that defeats DNS
  rebinding, where a hostile name resolves to 127.0.0.1.
- **Cross-site.** A request carrying an ``Origin`` other than the server's own,
  or ``Sec-Fetch-Site`` other than ``same-origin``/``none``, is refused: a web
  page the operator visits cannot drive these doors. No CORS header is ever
  sent, so a browser also keeps any answer from the page.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping

from readside.errors import RequestRefusedError

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
SAME_SITE = frozenset({"same-origin", "none"})


def require_loopback(host: str, what: str, *, container_bind: bool = False) -> None:
    """:class:`RequestRefusedError` unless ``host`` is a loopback address or ``localhost``,
    or, with ``container_bind``, the unspecified address (``0.0.0.0``, ``::``)."""
    if host == "localhost":
        return
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    if address is not None and address.is_loopback:
        return
    if container_bind and address is not None and address.is_unspecified:
        return
    if container_bind:
        raise RequestRefusedError(
            f"the {what} binds to loopback, or with MCP_AUDIT_READ_CONTAINER_BIND to every"
            " interface of a container (0.0.0.0 or ::) whose port is published on 127.0.0.1;"
            " not to one address of this host",
            reason="not-loopback",
            host=host,
        )
    raise RequestRefusedError(
        f"the {what} serves plain HTTP and binds to loopback only; in a container whose port"
        " is published on 127.0.0.1 set MCP_AUDIT_READ_CONTAINER_BIND=true, elsewhere put a"
        " TLS-terminating proxy with its own authentication in front",
        reason="not-loopback",
        host=host,
    )


def allowed_hosts(port: int) -> frozenset[str]:
    return frozenset(f"{name}:{port}" for name in LOOPBACK_NAMES)


def check_request(headers: Mapping[str, str], hosts: frozenset[str]) -> None:
    """Refuse a foreign ``Host`` and any cross-site request (see the module docstring).

    ``headers`` is looked up with lower-case names.
    """
    host = headers.get("host", "")
    if host not in hosts:
        raise RequestRefusedError("this Host is not served here", reason="foreign-host")
    origin = headers.get("origin")
    if origin is not None and origin.removeprefix("http://") not in hosts:
        raise RequestRefusedError("cross-origin requests are refused", reason="cross-origin")
    site = headers.get("sec-fetch-site")
    if site is not None and site not in SAME_SITE:
        raise RequestRefusedError("cross-site requests are refused", reason="cross-site")


def bearer(authorization: str) -> str:
    """The token of an ``Authorization: Bearer`` header, or ''."""
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""
