"""Mail backends: where sent messages go.

Each backend has one method, ``async send(messages) -> int``, and the
``mail_backend`` setting picks one:

- ``console`` (the default): print each message, for development;
- ``smtp``: hand them to an SMTP server;
- ``memory``: keep them in ``.outbox``, for tests;
- ``file``: write each one to a ``.eml`` file.

Any object with such a ``send`` method is a backend too: pass it to
``Mail(backend=...)``.
"""

from __future__ import annotations

import email.policy
import email.utils
import logging
import secrets
import smtplib
import ssl
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO, runtime_checkable

import anyio.to_thread

from carboy.exceptions import ImproperlyConfigured
from carboy.mail.exceptions import MailError

if TYPE_CHECKING:
    import email.message
    import os

    from carboy.config import Settings
    from carboy.mail.message import EmailMessage

__all__ = [
    "ConsoleBackend",
    "FileBackend",
    "MailBackend",
    "MemoryBackend",
    "SMTPBackend",
    "backend_from_settings",
]

logger = logging.getLogger("carboy.mail")

_READABLE = email.policy.SMTP.clone(linesep="\n")


@runtime_checkable
class MailBackend(Protocol):
    """Where ``Mail`` sends messages: the console, an SMTP server, memory, files."""

    async def send(self, messages: Sequence[EmailMessage]) -> int:
        """Send ``messages``, and return how many were sent.

        Raises:
            InvalidMessageError: when a message cannot be built; none is sent.
            MailError: when the messages could not be delivered.
        """
        ...


class ConsoleBackend:
    """Print each message whole, as it would be sent, followed by a line of dashes.

    For development: a password-reset link can be followed from the
    terminal, and no mail leaves the machine.

    Args:
        stream: Where to write; ``None``: standard output, looked up at each
            send.
    """

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream

    async def send(self, messages: Sequence[EmailMessage]) -> int:
        """Write ``messages`` to the stream; return how many were written."""
        texts = [_readable(message.to_mime()) for message in messages]
        stream = self.stream if self.stream is not None else sys.stdout
        for text in texts:
            stream.write(f"{text}\n{'-' * 79}\n")
        stream.flush()
        return len(texts)


class MemoryBackend:
    """Keep sent messages in ``outbox``, in the order they were sent; for tests.

    Each message is built as it would be for sending, so a message that
    could not be sent is refused here too.

    Example::

        backend = MemoryBackend()
        app = Carboy(extensions=[Mail(backend)])
        ...
        assert backend.outbox[0].subject == "Reset your password"
    """

    def __init__(self) -> None:
        self.outbox: list[EmailMessage] = []

    async def send(self, messages: Sequence[EmailMessage]) -> int:
        """Add ``messages`` to ``outbox``; return how many were added."""
        for message in messages:
            message.to_mime()
        self.outbox.extend(messages)
        return len(messages)


class FileBackend:
    """Write each message to a new ``.eml`` file, which mail readers open.

    Files are named by the time they were written, to the microsecond,
    then a random part, so that they sort by time and never overwrite one
    another. The folder is made when missing.

    Args:
        directory: The folder to write to, relative to the working folder.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    async def send(self, messages: Sequence[EmailMessage]) -> int:
        """Write one file per message; return how many were written.

        Raises:
            MailError: when the folder cannot be made or written to.
        """
        contents = [message.to_mime().as_bytes() for message in messages]
        return await anyio.to_thread.run_sync(self._write, contents)

    def _write(self, contents: list[bytes]) -> int:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            for content in contents:
                stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S-%f")
                path = self.directory / f"{stamp}-{secrets.token_hex(4)}.eml"
                with path.open("xb") as file:
                    file.write(content)
        except OSError as exc:
            raise MailError(
                f"Could not write an email to the folder {str(self.directory)!r}: "
                f"{_reason(exc)}. Make mail_file_path (CARBOY_MAIL_FILE_PATH) a folder the app "
                "can write to."
            ) from exc
        return len(contents)


class SMTPBackend:
    """Hand messages to an SMTP server, one connection for each call of ``send``.

    The standard library's ``smtplib`` does the talking, in a worker
    thread, so the event loop keeps serving while a server answers.

    Args:
        host: The server's host name or IP address.
        port: Its port: 25 (relay), 587 (submission, with ``use_tls``) or
            465 (with ``use_ssl``).
        username: Log in with this name (SMTP AUTH); ``None``: do not log in.
        password: The password of ``username``.
        use_tls: Upgrade the connection with STARTTLS before anything else.
        use_ssl: Connect over TLS from the start (often called SSL).
        timeout: Seconds to wait for the server at each step.
        ssl_context: The TLS settings for ``use_tls`` and ``use_ssl``;
            ``None``: the system's certificate authorities, and the server's
            name checked.

    Raises:
        ImproperlyConfigured: when ``use_tls`` and ``use_ssl`` are both on.
    """

    def __init__(
        self,
        host: str,
        port: int = 25,
        *,
        username: str | None = None,
        password: str | None = None,
        use_tls: bool = False,
        use_ssl: bool = False,
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if use_tls and use_ssl:
            raise ImproperlyConfigured(
                "SMTPBackend got both use_tls and use_ssl (the settings smtp_use_tls and "
                "smtp_use_ssl), which exclude each other: use_tls upgrades a plain connection "
                "with STARTTLS (usually port 587), use_ssl speaks TLS from the start (usually "
                "port 465). Turn one of them off."
            )
        self.host = host
        self.port = port
        self.username = username
        self._password = password
        self.use_tls = use_tls
        self.use_ssl = use_ssl
        self.timeout = timeout
        self._ssl_context = ssl_context

    def __repr__(self) -> str:
        return f"SMTPBackend(host={self.host!r}, port={self.port!r}, username={self.username!r})"

    @property
    def _where(self) -> str:
        return f"{self.host}:{self.port}"

    async def send(self, messages: Sequence[EmailMessage]) -> int:
        """Send ``messages`` over one connection; return how many the server accepted.

        Raises:
            InvalidMessageError: when a message cannot be built; nothing is
                sent then.
            MailError: when the server cannot be reached, refuses the login
                or a message. The message names the host and port, and never
                the password.
        """
        if not messages:
            return 0
        for message in messages:
            message.validate()
        return await anyio.to_thread.run_sync(self._send, list(messages))

    def _send(self, messages: list[EmailMessage]) -> int:
        connection = self._connect()
        try:
            eight_bit = connection.has_extn("8bitmime")
            for message in messages:
                self._send_one(connection, message, eight_bit=eight_bit)
        except (OSError, smtplib.SMTPException) as exc:
            raise self._failure(
                exc,
                f"The connection to the SMTP server at {self._where} failed while mail was "
                f"being sent: {_reason(exc)}. Check the network, the server's logs, and that "
                "the server runs.",
            ) from exc
        finally:
            _close(connection)
        return len(messages)

    def _connect(self) -> smtplib.SMTP:
        connection: smtplib.SMTP
        try:
            if self.use_ssl:
                connection = smtplib.SMTP_SSL(
                    self.host, self.port, timeout=self.timeout, context=self._context()
                )
            else:
                connection = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except (OSError, smtplib.SMTPException) as exc:
            raise self._failure(
                exc,
                f"Could not connect to the SMTP server at {self._where}: {_reason(exc)}. Check "
                "the settings smtp_host and smtp_port (CARBOY_SMTP_HOST, CARBOY_SMTP_PORT), "
                "and that the server runs.",
            ) from exc
        try:
            self._start(connection)
        except BaseException:
            _close(connection)
            raise
        return connection

    def _start(self, connection: smtplib.SMTP) -> None:
        """Say hello, upgrade to TLS and log in, as configured."""
        try:
            if self.use_tls:
                connection.ehlo()
                if not connection.has_extn("starttls"):
                    raise MailError(
                        f"The SMTP server at {self._where} does not offer STARTTLS, which "
                        "smtp_use_tls asks for. Turn smtp_use_tls off, or turn smtp_use_ssl on "
                        "with the server's TLS port (usually 465)."
                    )
                connection.starttls(context=self._context())
                connection.ehlo()
            if self.username is not None:
                connection.ehlo_or_helo_if_needed()
                if not connection.has_extn("auth"):
                    raise MailError(
                        f"The SMTP server at {self._where} does not offer a login (SMTP AUTH) "
                        "on this connection, which smtp_username asks for. Servers often offer "
                        "it over TLS only: turn smtp_use_tls on (port 587) or smtp_use_ssl on "
                        "(port 465); or unset smtp_username if the server needs no login."
                    )
                connection.login(self.username, self._password or "")
            # Learn the server's extensions (8BITMIME) before the first message.
            connection.ehlo_or_helo_if_needed()
        except smtplib.SMTPAuthenticationError as exc:
            raise MailError(
                f"The SMTP server at {self._where} refused the login of {self.username!r}: "
                f"{_reason(exc)}. Check the settings smtp_username and smtp_password."
            ) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise self._failure(
                exc,
                f"Could not start a session with the SMTP server at {self._where}: "
                f"{_reason(exc)}. Check the settings smtp_port, smtp_use_tls and smtp_use_ssl "
                "against what the server expects.",
            ) from exc

    def _send_one(
        self, connection: smtplib.SMTP, message: EmailMessage, *, eight_bit: bool
    ) -> None:
        mime = message.to_mime(eight_bit=eight_bit)
        sender = email.utils.parseaddr(mime["From"])[1]
        recipients = [address for _, address in email.utils.getaddresses(message.recipients)]
        # smtplib adds the option itself for international addresses.
        international = not "".join([sender, *recipients]).isascii()
        options = ("BODY=8BITMIME",) if eight_bit and not international else ()
        try:
            refused = connection.send_message(mime, sender, recipients, mail_options=options)
        except smtplib.SMTPRecipientsRefused as exc:
            raise MailError(
                f"The SMTP server at {self._where} refused every recipient of the email "
                f"{message.subject!r}: {_refusals(exc.recipients)}. Check the addresses."
            ) from exc
        except smtplib.SMTPSenderRefused as exc:
            raise MailError(
                f"The SMTP server at {self._where} refused the sender {sender!r} of the email "
                f"{message.subject!r}: {_reason(exc)}. Send from an address the server accepts "
                "(the mail_from setting, CARBOY_MAIL_FROM, or from_=)."
            ) from exc
        except (smtplib.SMTPDataError, smtplib.SMTPNotSupportedError) as exc:
            raise MailError(
                f"The SMTP server at {self._where} refused the email {message.subject!r}: "
                f"{_reason(exc)}."
            ) from exc
        if refused:
            logger.warning(
                "The SMTP server at %s refused some recipients of the email %r, and took it "
                "for the others: %s",
                self._where,
                message.subject,
                _refusals(refused),
            )

    def _failure(self, exc: BaseException, message: str) -> MailError:
        """The error to raise for ``exc``: ``message``, unless the server went quiet."""
        # smtplib reports a read that timed out as SMTPServerDisconnected,
        # with the TimeoutError as its context.
        if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
            return MailError(
                f"The SMTP server at {self._where} did not answer within {self.timeout:g} s. "
                "Check that the server runs and that smtp_host and smtp_port name it "
                "(CARBOY_SMTP_HOST, CARBOY_SMTP_PORT), or raise smtp_timeout "
                "(CARBOY_SMTP_TIMEOUT)."
            )
        return MailError(message)

    def _context(self) -> ssl.SSLContext:
        if self._ssl_context is None:
            self._ssl_context = ssl.create_default_context()
        return self._ssl_context


def backend_from_settings(settings: Settings) -> MailBackend:
    """Make the backend that the ``mail_backend`` setting names, from the other mail settings.

    Raises:
        ImproperlyConfigured: for the smtp backend without ``smtp_host``, or
            with both ``smtp_use_tls`` and ``smtp_use_ssl``.
    """
    kind = settings.mail_backend
    if kind == "memory":
        return MemoryBackend()
    if kind == "file":
        return FileBackend(settings.mail_file_path)
    if kind == "smtp":
        if not settings.smtp_host:
            raise ImproperlyConfigured(
                "The mail_backend setting is 'smtp', and smtp_host is not set, so mail has no "
                "server to go to. Set CARBOY_SMTP_HOST to the SMTP server's host name."
            )
        password = settings.smtp_password
        return SMTPBackend(
            settings.smtp_host,
            settings.smtp_port,
            username=settings.smtp_username,
            password=None if password is None else password.get_secret_value(),
            use_tls=settings.smtp_use_tls,
            use_ssl=settings.smtp_use_ssl,
            timeout=settings.smtp_timeout,
        )
    return ConsoleBackend()


def _readable(mime: email.message.EmailMessage) -> str:
    # Bytes, not as_string(): the string generator turns 8bit UTF-8 bodies
    # into base64.
    return mime.as_bytes(policy=_READABLE).decode("utf-8", errors="replace")


def _reason(exc: BaseException) -> str:
    """Say what went wrong in one line, without the exception's noise."""
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error
        reply = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        return f"{exc.smtp_code} {' '.join(reply.split())}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc).rstrip(".") or type(exc).__name__


def _refusals(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"{address} ({code} {' '.join(reply.decode('utf-8', 'replace').split())})"
        for address, (code, reply) in refused.items()
    )


def _close(connection: smtplib.SMTP) -> None:
    try:
        connection.quit()
    except (OSError, smtplib.SMTPException):
        connection.close()
