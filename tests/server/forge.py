"""A fake forge for tests: a real HTTP(S) server on loopback that serves raw files.

Each route is a ``Route``: a body with a status, or a redirect, optionally slow (``delay``
before the answer, ``drip`` between bytes), without ``Content-Length`` (close-delimited), or
running a callback when it is hit. Every request is recorded in ``hits`` (path and Host).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    drip: float | None = None
    content_length: bool = True
    on_hit: Callable[[], None] | None = None


class Forge:
    def __init__(self, server: ThreadingHTTPServer, scheme: str = "http"):
        self.server = server
        self.port = server.server_port
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.routes: dict[str, Route] = {}
        self.hits: list[tuple[str, str]] = []

    def put(self, path: str, body: str | bytes = b"", **options) -> Route:
        """Serve ``body`` (or a status, redirect, ...) at ``path`` (leading '/')."""
        data = body.encode() if isinstance(body, str) else body
        route = Route(data, **options)
        self.routes[path] = route
        return route

    def redirect(self, path: str, location: str, status: int = 302) -> Route:
        return self.put(path, status=status, headers={"Location": location})

    def paths(self) -> list[str]:
        return [path for path, _host in self.hits]


def _handler(forge_ref: list[Forge]):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            forge = forge_ref[0]
            forge.hits.append((self.path, self.headers.get("Host", "")))
            route = forge.routes.get(self.path) or Route(b"not found", status=404)
            if route.on_hit:
                route.on_hit()
            time.sleep(route.delay)
            self.send_response(route.status)
            for name, value in route.headers.items():
                self.send_header(name, value)
            if route.content_length:
                self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            try:
                if route.drip is None:
                    self.wfile.write(route.body)
                    return
                for byte in route.body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(route.drip)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up, as it should

        def log_message(self, *args):
            pass

    return Handler


@contextlib.contextmanager
def running_forge(tls: ssl.SSLContext | None = None):
    """Run a forge on a free loopback port in a thread; stop it afterwards."""
    ref: list[Forge] = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(ref))
    server.daemon_threads = True
    server.block_on_close = False
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    forge = Forge(server, "https" if tls else "http")
    ref.append(forge)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield forge
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def self_signed(directory: Path, hostname: str) -> tuple[ssl.SSLContext, Path]:
    """Make a certificate for ``hostname``; return a server context and the CA file."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hostname)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(hostname)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / f"{hostname}.pem", directory / f"{hostname}.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file
