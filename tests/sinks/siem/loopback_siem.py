"""A real HTTP server on 127.0.0.1 standing in for a SIEM webhook: http.server in a thread.

Not a mock: the forwarder's requests go through the kernel's loopback, the
server parses them as a SIEM would, and answers with the status ``answer``
chooses. Every request is recorded with its headers, documents and answer, and
every document it received is judged by pydantic-ocsf when the server stops
(a test whose forwarder sent invalid OCSF fails there). With ``tls`` (see
:func:`self_signed_tls`) it speaks HTTPS, as a SIEM's webhook does.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson

from tests.sinks.siem.ocsf_oracle import COMPLETE, ocsf_problems

# documents of the request and its 0-based number -> status and extra headers
Answer = Callable[[list[dict[str, Any]], int], tuple[int, dict[str, str]]]


def always_ok(documents: list[dict[str, Any]], index: int) -> tuple[int, dict[str, str]]:
    return 200, {}


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    documents: list[dict[str, Any]]
    status: int
    at: float


class LoopbackSiem:
    def __init__(self, answer: Answer = always_ok, tls: ssl.SSLContext | None = None) -> None:
        self.answer = answer
        self.requests: list[Received] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        scheme = "http"
        if tls is not None:
            self._server.socket = tls.wrap_socket(self._server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://127.0.0.1:{self._server.server_port}/ingest"

    def accepted(self) -> list[dict[str, Any]]:
        """Every document of every 2xx-answered request, in arrival order."""
        with self._lock:
            return [d for r in self.requests if 200 <= r.status < 300 for d in r.documents]

    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        siem = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Type") == "application/x-ndjson":
                    documents = [orjson.loads(line) for line in body.splitlines() if line]
                else:
                    documents = orjson.loads(body)
                with siem._lock:
                    index = len(siem.requests)
                status, extra = siem.answer(documents, index)
                with siem._lock:
                    siem.requests.append(
                        Received(dict(self.headers), documents, status, time.monotonic())
                    )
                reply = orjson.dumps({"status": status})
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the test output is not the place for an access log

        return Handler

    @contextmanager
    def running(self) -> Iterator[LoopbackSiem]:
        thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._server.shutdown()
            self._server.server_close()
            thread.join(10)
        invalid = self.invalid_ocsf()
        assert not invalid, f"the forwarder sent invalid OCSF: {invalid[:3]}"

    def invalid_ocsf(self) -> list[str]:
        """Problems of every document received, in each OCSF version fully checked."""
        with self._lock:
            documents = [d for r in self.requests for d in r.documents]
        return [
            f"{d.get('metadata', {}).get('uid')} {version}: {problem}"
            for d in documents
            for version in COMPLETE
            for problem in ocsf_problems(d, version)
        ]


def self_signed_tls(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server context for 127.0.0.1 with a fresh self-signed certificate, and the
    certificate's PEM file (a client trusts it through ``SSL_CERT_FILE``)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "loopback-siem")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "siem-cert.pem", directory / "siem-key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context, cert_path
