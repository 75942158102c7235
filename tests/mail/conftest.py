"""A real SMTP server (aiosmtpd) for the mail tests, run on the test's own event loop.

The SMTP backend talks to it from a worker thread, so the loop that serves
it stays free. Port 0: the system picks a free port.
"""

from __future__ import annotations

import asyncio
import email.message
import email.parser
import email.policy
import shutil
import ssl
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

USERNAME = "ada"
PASSWORD = "s3cret-Pa55word"


@dataclass
class Received:
    """One message the server took: its envelope and its parsed content."""

    sender: str
    recipients: list[str]
    message: email.message.EmailMessage
    raw: bytes


@dataclass
class Inbox:
    """What the test server has received, and how many connections it had."""

    port: int = 0
    received: list[Received] = field(default_factory=list)
    connections: int = 0
    logins: list[str] = field(default_factory=list)
    offers_8bitmime: bool = True

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname
        if self.offers_8bitmime:
            return responses
        return [line for line in responses if "8BITMIME" not in line]

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        parsed = email.parser.BytesParser(policy=email.policy.default).parsebytes(raw)
        sender = envelope.mail_from or ""
        self.received.append(Received(sender, list(envelope.rcpt_tos), parsed, raw))
        return "250 OK"


def check_login(inbox: Inbox) -> Callable[..., AuthResult]:
    def authenticator(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        if not isinstance(data, LoginPassword):
            return AuthResult(success=False, handled=False)
        login, password = data.login.decode(), data.password.decode()
        if (login, password) == (USERNAME, PASSWORD):
            inbox.logins.append(login)
            return AuthResult(success=True)
        return AuthResult(success=False, handled=False)

    return authenticator


StartSMTP = Callable[..., Awaitable[Inbox]]


@pytest.fixture
async def start_smtp() -> AsyncIterator[StartSMTP]:
    """Start SMTP servers with the given aiosmtpd options; each is closed after the test."""
    servers: list[asyncio.Server] = []
    loop = asyncio.get_running_loop()

    async def start(*, ssl_context: ssl.SSLContext | None = None, **options: Any) -> Inbox:
        inbox = Inbox(offers_8bitmime=options.pop("offers_8bitmime", True))
        if options.pop("authenticate", False):
            options["authenticator"] = check_login(inbox)

        def protocol() -> SMTP:
            inbox.connections += 1
            return SMTP(inbox, hostname="mail.test", loop=loop, **options)

        server = await loop.create_server(protocol, "127.0.0.1", 0, ssl=ssl_context)
        servers.append(server)
        inbox.port = server.sockets[0].getsockname()[1]
        return inbox

    yield start
    for server in servers:
        server.close()
        await server.wait_closed()


@dataclass(frozen=True)
class Certificate:
    """A self-signed certificate for 127.0.0.1, and contexts that use it."""

    cert: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.cert))


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Certificate:
    """Make the certificate with the openssl command, once per run."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is not installed; it makes the TLS test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return Certificate(cert, key)
