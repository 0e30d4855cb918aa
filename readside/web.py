"""What every HTTP door of the read side checks before it looks at a credential.

- **Loopback only.** These servers speak plain HTTP; binding one elsewhere
  would send tokens and audit rows in clear, so :func:`require_loopback`
  refuses it (put a TLS-terminating proxy in front instead).
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


def require_loopback(host: str, what: str) -> None:
    """:class:`RequestRefusedError` unless ``host`` is a loopback address or ``localhost``."""
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise RequestRefusedError(
            f"the {what} serves plain HTTP and binds to loopback only; put a TLS-terminating"
            " proxy with its own authentication in front to reach it from elsewhere",
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
