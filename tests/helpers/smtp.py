"""A real SMTP server for tests: aiosmtpd on 127.0.0.1, optionally with STARTTLS and AUTH.

Fixtures (registered through `pytest_plugins` in tests/conftest.py):
- `smtp_server`: a plain server on a free port, started; `.port`, `.messages` (parsed
  `EmailMessage`s), `.envelopes`, `.stop()`, `.start()` (same port again), `.rcpt_replies`.
- `smtp_server_factory`: builds more servers (`tls=True`, `credentials=(user, password)`),
  stopped at the end of the test.
- `self_signed_cert(dir)`: a certificate for 127.0.0.1/localhost and its key.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate valid for 127.0.0.1 and localhost; returns (cert, key) paths."""
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / "smtp-cert.pem", directory / "smtp-key.pem"
    try:
        from cryptography import x509
    except ImportError:  # the openssl command line does the same
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-keyout", str(key_path),
                        "-out", str(cert_path), "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       check=True, capture_output=True)
        return cert_path, key_path
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        reply = self.server.rcpt_replies.get(address.lower())
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = bytes(envelope.original_content or envelope.content or b"")  # type: ignore[arg-type]
        message = BytesParser(policy=policy.default).parsebytes(raw)
        with self.server.lock:
            self.server.envelopes.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos),
                                                  message, raw))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


class SmtpServer:
    """aiosmtpd in a thread; `stop()` and `start()` again on the same port."""

    def __init__(self, *, port: int | None = None, tls_cert: tuple[Path, Path] | None = None,
                 credentials: tuple[str, str] | None = None, exclude_auth: tuple[str, ...] = ()) -> None:
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.tls_cert = tls_cert
        self.credentials = credentials
        self.exclude_auth = exclude_auth  # e.g. ("PLAIN",) so that clients use AUTH LOGIN
        self.envelopes: list[Received] = []
        # Address (lower case) -> reply to RCPT TO, e.g. "550 5.1.1 User unknown".
        self.rcpt_replies: dict[str, str] = {}
        self.auth_attempts: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    @property
    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [e.message for e in self.envelopes]

    def _authenticate(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                      auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        self.auth_attempts.append((mechanism, login))
        return AuthResult(success=(login, password) == self.credentials, handled=False)

    def start(self) -> SmtpServer:
        if self._controller is not None:
            return self
        kwargs: dict[str, Any] = {}
        if self.tls_cert is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(str(self.tls_cert[0]), str(self.tls_cert[1]))
            kwargs.update(tls_context=context, require_starttls=True)
        if self.credentials is not None:
            kwargs.update(authenticator=self._authenticate, auth_required=True, auth_require_tls=True,
                          auth_exclude_mechanism=list(self.exclude_auth))
        controller = Controller(_Handler(self), hostname=self.host, port=self.port, ready_timeout=10,
                                **kwargs)
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def clear(self) -> None:
        with self.lock:
            self.envelopes.clear()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A plain SMTP server on 127.0.0.1 (free port), started."""
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp_server_factory() -> Iterator[Callable[..., SmtpServer]]:
    """`make(tls_cert=..., credentials=(user, password), exclude_auth=("PLAIN",), start=True)`;
    every server made is stopped after the test."""
    made: list[SmtpServer] = []

    def make(*, start: bool = True, **kwargs: Any) -> SmtpServer:
        server = SmtpServer(**kwargs)
        made.append(server)
        return server.start() if start else server

    yield make
    for server in made:
        server.stop()


__all__ = ["Received", "SmtpServer", "free_port", "self_signed_cert", "smtp_server", "smtp_server_factory"]
