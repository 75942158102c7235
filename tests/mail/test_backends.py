from __future__ import annotations

import email.parser
import email.policy
import io
import logging
import socket
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from carboy.config import Settings
from carboy.exceptions import ImproperlyConfigured
from carboy.mail import (
    ConsoleBackend,
    EmailMessage,
    FileBackend,
    InvalidMessageError,
    MailBackend,
    MailError,
    MemoryBackend,
    SMTPBackend,
    backend_from_settings,
)
from tests.mail.conftest import PASSWORD, USERNAME, Certificate, StartSMTP

pytestmark = pytest.mark.anyio

FIXED = {"Date": "Mon, 01 Jan 2024 00:00:00 +0000", "Message-ID": "<1@example.com>"}


def message(**changes: Any) -> EmailMessage:
    fields: dict[str, Any] = {
        "to": ["ada@example.com"],
        "subject": "Hello",
        "body": "Hi Ada.\n",
        "from_": "site@example.com",
    }
    return EmailMessage(**{**fields, **changes})


def text(part: email.message.EmailMessage | None) -> str:
    assert part is not None
    content: str = part.get_content()
    return content.replace("\r\n", "\n")


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# Console ---------------------------------------------------------------------


async def test_the_console_backend_writes_each_whole_message_and_a_line_of_dashes() -> None:
    stream = io.StringIO()
    first = message(headers=FIXED)
    second = message(to=["bob@example.com"], subject="Bonjour", body="Ça va ?\n", headers=FIXED)

    count = await ConsoleBackend(stream).send([first, second])

    assert count == 2
    assert stream.getvalue() == (
        "From: site@example.com\n"
        "To: ada@example.com\n"
        "Subject: Hello\n"
        "Date: Mon, 01 Jan 2024 00:00:00 +0000\n"
        "Message-ID: <1@example.com>\n"
        'Content-Type: text/plain; charset="utf-8"\n'
        "Content-Transfer-Encoding: 7bit\n"
        "MIME-Version: 1.0\n"
        "\n"
        "Hi Ada.\n"
        "\n" + "-" * 79 + "\n"
        "From: site@example.com\n"
        "To: bob@example.com\n"
        "Subject: Bonjour\n"
        "Date: Mon, 01 Jan 2024 00:00:00 +0000\n"
        "Message-ID: <1@example.com>\n"
        'Content-Type: text/plain; charset="utf-8"\n'
        "Content-Transfer-Encoding: 8bit\n"
        "MIME-Version: 1.0\n"
        "\n"
        "Ça va ?\n"
        "\n" + "-" * 79 + "\n"
    )


async def test_the_console_backend_writes_to_standard_output_by_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    await ConsoleBackend().send([message(body="Reset: https://example.com/reset?t=abc\n")])

    out = capsys.readouterr().out
    assert "To: ada@example.com\n" in out
    assert "\nReset: https://example.com/reset?t=abc\n\n" + "-" * 79 + "\n" in out


async def test_the_console_backend_refuses_an_injected_message_and_writes_nothing() -> None:
    stream = io.StringIO()
    bad = message()
    bad.subject = "Hi\r\nBcc: victim@example.com"

    with pytest.raises(InvalidMessageError):
        await ConsoleBackend(stream).send([message(), bad])

    assert stream.getvalue() == ""


# Memory ----------------------------------------------------------------------


async def test_the_memory_backend_keeps_sent_messages_in_its_outbox_in_order() -> None:
    backend = MemoryBackend()
    first, second = message(subject="One"), message(subject="Two")

    assert await backend.send([first]) == 1
    assert await backend.send([second]) == 1

    assert backend.outbox == [first, second]
    assert backend.outbox[0] is first


async def test_the_memory_backend_refuses_an_injected_message() -> None:
    backend = MemoryBackend()
    bad = message()
    bad.to = ["ada@example.com\nBcc: victim@example.com"]

    with pytest.raises(InvalidMessageError):
        await backend.send([bad])

    assert backend.outbox == []


# File ------------------------------------------------------------------------


async def test_the_file_backend_writes_one_parseable_eml_file_per_message(tmp_path: Path) -> None:
    folder = tmp_path / "sent" / "mail"
    backend = FileBackend(folder)

    count = await backend.send(
        [
            message(subject="One", html="<p>One</p>", bcc=["hidden@example.com"]),
            message(subject="Zwei: ü"),
        ]
    )

    assert count == 2
    files = sorted(folder.iterdir())
    assert [path.suffix for path in files] == [".eml", ".eml"]
    parser = email.parser.BytesParser(policy=email.policy.default)
    parsed = sorted(
        (parser.parsebytes(path.read_bytes()) for path in files), key=lambda m: m["Subject"]
    )
    assert [mail["Subject"] for mail in parsed] == ["One", "Zwei: ü"]
    assert parsed[0]["To"] == "ada@example.com"
    assert parsed[0]["Bcc"] is None
    assert text(parsed[0].get_body(("plain",))) == "Hi Ada.\n"
    assert text(parsed[0].get_body(("html",))) == "<p>One</p>\n"


async def test_the_file_backend_never_overwrites_earlier_files(tmp_path: Path) -> None:
    backend = FileBackend(tmp_path)

    for _ in range(3):
        await backend.send([message()])

    assert len(list(tmp_path.glob("*.eml"))) == 3


async def test_the_file_backend_says_when_its_folder_cannot_be_made(tmp_path: Path) -> None:
    taken = tmp_path / "taken"
    taken.write_text("a file, not a folder", encoding="utf-8")

    with pytest.raises(MailError) as caught:
        await FileBackend(taken).send([message()])

    assert str(caught.value) == (
        f"Could not write an email to the folder {str(taken)!r}: File exists. Make "
        "mail_file_path (CARBOY_MAIL_FILE_PATH) a folder the app can write to."
    )


# SMTP ------------------------------------------------------------------------


async def test_the_smtp_backend_delivers_text_and_html_with_a_utf8_subject(
    start_smtp: StartSMTP,
) -> None:
    inbox = await start_smtp()
    backend = SMTPBackend("127.0.0.1", inbox.port)
    mail = message(
        to=["Zoë <zoe@example.com>"],
        cc=["bob@example.com"],
        bcc=["hidden@example.com"],
        from_="Société <site@example.com>",
        subject="Café ☕ prêt",
        body="Grüße, Zoë.\n",
        html="<p>Grüße, <b>Zoë</b>.</p>",
    )

    count = await backend.send([mail])

    assert count == 1
    [received] = inbox.received
    assert received.sender == "site@example.com"
    assert received.recipients == ["zoe@example.com", "bob@example.com", "hidden@example.com"]
    parsed = received.message
    assert parsed["Subject"] == "Café ☕ prêt"
    assert parsed["From"] == "Société <site@example.com>"
    assert parsed["To"] == "Zoë <zoe@example.com>"
    assert parsed["Cc"] == "bob@example.com"
    assert parsed["Bcc"] is None
    assert b"hidden@example.com" not in received.raw
    assert parsed.get_content_type() == "multipart/alternative"
    assert text(parsed.get_body(("plain",))) == "Grüße, Zoë.\n"
    assert text(parsed.get_body(("html",))) == "<p>Grüße, <b>Zoë</b>.</p>\n"


async def test_non_ascii_bodies_go_as_8bit_to_a_server_that_offers_8bitmime(
    start_smtp: StartSMTP,
) -> None:
    inbox = await start_smtp()

    await SMTPBackend("127.0.0.1", inbox.port).send([message(body="Grüße\n")])

    parsed = inbox.received[0].message
    assert parsed["Content-Transfer-Encoding"] == "8bit"
    assert "Grüße\r\n".encode() in inbox.received[0].raw


async def test_non_ascii_bodies_go_as_quoted_printable_to_a_server_without_8bitmime(
    start_smtp: StartSMTP,
) -> None:
    inbox = await start_smtp(offers_8bitmime=False)

    await SMTPBackend("127.0.0.1", inbox.port).send([message(body="Grüße\n")])

    parsed = inbox.received[0].message
    assert parsed["Content-Transfer-Encoding"] == "quoted-printable"
    assert inbox.received[0].raw.isascii()
    assert text(parsed) == "Grüße\n"


async def test_the_smtp_backend_sends_a_batch_over_one_connection(start_smtp: StartSMTP) -> None:
    inbox = await start_smtp()
    backend = SMTPBackend("127.0.0.1", inbox.port)

    count = await backend.send([message(subject=f"Message {n}") for n in range(3)])

    assert count == 3
    assert [item.message["Subject"] for item in inbox.received] == [
        "Message 0",
        "Message 1",
        "Message 2",
    ]
    assert inbox.connections == 1


async def test_an_empty_batch_opens_no_connection() -> None:
    assert await SMTPBackend("127.0.0.1", closed_port()).send([]) == 0


async def test_the_smtp_backend_logs_in_with_username_and_password(
    start_smtp: StartSMTP,
) -> None:
    inbox = await start_smtp(authenticate=True, auth_require_tls=False)
    backend = SMTPBackend("127.0.0.1", inbox.port, username=USERNAME, password=PASSWORD)

    await backend.send([message()])

    assert inbox.logins == [USERNAME]
    assert len(inbox.received) == 1


async def test_a_refused_login_names_the_user_and_never_the_password(
    start_smtp: StartSMTP,
) -> None:
    inbox = await start_smtp(authenticate=True, auth_require_tls=False)
    backend = SMTPBackend("127.0.0.1", inbox.port, username=USERNAME, password="wrong-Secret")

    with pytest.raises(MailError) as caught:
        await backend.send([message()])

    assert str(caught.value) == (
        f"The SMTP server at 127.0.0.1:{inbox.port} refused the login of 'ada': 535 5.7.8 "
        "Authentication credentials invalid. Check the settings smtp_username and "
        "smtp_password."
    )
    assert "wrong-Secret" not in repr(caught.value)
    assert inbox.received == []


async def test_a_login_the_server_does_not_offer_says_to_use_tls(start_smtp: StartSMTP) -> None:
    # aiosmtpd, as many servers, offers AUTH only once the connection is encrypted.
    inbox = await start_smtp(authenticate=True)
    backend = SMTPBackend("127.0.0.1", inbox.port, username=USERNAME, password=PASSWORD)

    with pytest.raises(MailError) as caught:
        await backend.send([message()])

    assert str(caught.value) == (
        f"The SMTP server at 127.0.0.1:{inbox.port} does not offer a login (SMTP AUTH) on this "
        "connection, which smtp_username asks for. Servers often offer it over TLS only: turn "
        "smtp_use_tls on (port 587) or smtp_use_ssl on (port 465); or unset smtp_username if "
        "the server needs no login."
    )


async def test_starttls_then_login_then_send(
    start_smtp: StartSMTP, certificate: Certificate
) -> None:
    inbox = await start_smtp(
        authenticate=True, tls_context=certificate.server_context(), require_starttls=True
    )
    backend = SMTPBackend(
        "127.0.0.1",
        inbox.port,
        username=USERNAME,
        password=PASSWORD,
        use_tls=True,
        ssl_context=certificate.client_context(),
    )

    await backend.send([message()])

    assert inbox.logins == [USERNAME]
    assert [item.message["Subject"] for item in inbox.received] == ["Hello"]


async def test_implicit_tls_with_use_ssl(start_smtp: StartSMTP, certificate: Certificate) -> None:
    inbox = await start_smtp(ssl_context=certificate.server_context())
    backend = SMTPBackend(
        "127.0.0.1", inbox.port, use_ssl=True, ssl_context=certificate.client_context()
    )

    await backend.send([message()])

    assert [item.message["Subject"] for item in inbox.received] == ["Hello"]


async def test_starttls_that_the_server_does_not_offer_is_a_clear_error(
    start_smtp: StartSMTP,
) -> None:
    inbox = await start_smtp()
    backend = SMTPBackend("127.0.0.1", inbox.port, use_tls=True)

    with pytest.raises(MailError) as caught:
        await backend.send([message()])

    assert str(caught.value) == (
        f"The SMTP server at 127.0.0.1:{inbox.port} does not offer STARTTLS, which "
        "smtp_use_tls asks for. Turn smtp_use_tls off, or turn smtp_use_ssl on with the "
        "server's TLS port (usually 465)."
    )


async def test_an_untrusted_certificate_is_refused(
    start_smtp: StartSMTP, certificate: Certificate
) -> None:
    inbox = await start_smtp(tls_context=certificate.server_context())
    backend = SMTPBackend("127.0.0.1", inbox.port, use_tls=True)

    with pytest.raises(MailError) as caught:
        await backend.send([message()])

    assert str(caught.value).startswith(
        f"Could not start a session with the SMTP server at 127.0.0.1:{inbox.port}: "
    )
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value)
    assert inbox.received == []


async def test_an_unreachable_server_is_named_by_host_and_port_and_not_by_password() -> None:
    port = closed_port()
    backend = SMTPBackend("127.0.0.1", port, username=USERNAME, password=PASSWORD)

    with pytest.raises(MailError) as caught:
        await backend.send([message()])

    assert str(caught.value) == (
        f"Could not connect to the SMTP server at 127.0.0.1:{port}: Connection refused. Check "
        "the settings smtp_host and smtp_port (CARBOY_SMTP_HOST, CARBOY_SMTP_PORT), and that "
        "the server runs."
    )
    assert PASSWORD not in repr(caught.value)
    assert PASSWORD not in repr(backend)


async def test_a_server_that_never_answers_times_out() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        backend = SMTPBackend("127.0.0.1", port, timeout=0.2)

        with pytest.raises(MailError) as caught:
            await backend.send([message()])

    assert str(caught.value) == (
        f"The SMTP server at 127.0.0.1:{port} did not answer within 0.2 s. Check that the "
        "server runs and that smtp_host and smtp_port name it (CARBOY_SMTP_HOST, "
        "CARBOY_SMTP_PORT), or raise smtp_timeout (CARBOY_SMTP_TIMEOUT)."
    )


async def test_an_injected_message_is_refused_before_connecting() -> None:
    bad = message()
    bad.subject = "Hi\nBcc: victim@example.com"
    backend = SMTPBackend("127.0.0.1", closed_port())

    with pytest.raises(InvalidMessageError):
        await backend.send([bad])


async def test_a_refused_recipient_among_others_is_logged_and_the_rest_delivered(
    start_smtp: StartSMTP, caplog: pytest.LogCaptureFixture
) -> None:
    class Picky:
        async def handle_RCPT(
            self, server: Any, session: Any, envelope: Any, address: str, options: Any
        ) -> str:
            if address.startswith("nobody@"):
                return "550 5.1.1 No such user"
            envelope.rcpt_tos.append(address)
            return "250 OK"

    inbox = await start_smtp()
    inbox.handle_RCPT = Picky().handle_RCPT  # type: ignore[attr-defined]
    backend = SMTPBackend("127.0.0.1", inbox.port)

    with caplog.at_level(logging.WARNING, logger="carboy.mail"):
        await backend.send([message(to=["ada@example.com", "nobody@example.com"])])

    assert inbox.received[0].recipients == ["ada@example.com"]
    assert caplog.messages == [
        f"The SMTP server at 127.0.0.1:{inbox.port} refused some recipients of the email "
        "'Hello', and took it for the others: nobody@example.com (550 5.1.1 No such user)"
    ]


async def test_every_recipient_refused_is_an_error(start_smtp: StartSMTP) -> None:
    async def refuse(server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        return "550 5.1.1 No such user"

    inbox = await start_smtp()
    inbox.handle_RCPT = refuse  # type: ignore[attr-defined]
    backend = SMTPBackend("127.0.0.1", inbox.port)

    with pytest.raises(MailError) as caught:
        await backend.send([message(to=["nobody@example.com"])])

    assert str(caught.value) == (
        f"The SMTP server at 127.0.0.1:{inbox.port} refused every recipient of the email "
        "'Hello': nobody@example.com (550 5.1.1 No such user). Check the addresses."
    )


def test_use_tls_and_use_ssl_together_are_refused() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        SMTPBackend("mail.example.com", use_tls=True, use_ssl=True)

    assert str(caught.value) == (
        "SMTPBackend got both use_tls and use_ssl (the settings smtp_use_tls and "
        "smtp_use_ssl), which exclude each other: use_tls upgrades a plain connection with "
        "STARTTLS (usually port 587), use_ssl speaks TLS from the start (usually port 465). "
        "Turn one of them off."
    )


# Backends from settings ------------------------------------------------------


def test_the_default_backend_is_the_console() -> None:
    assert isinstance(backend_from_settings(Settings()), ConsoleBackend)


def test_the_memory_and_file_backends_come_from_the_settings(tmp_path: Path) -> None:
    memory = backend_from_settings(Settings(mail_backend="memory"))
    file = backend_from_settings(Settings(mail_backend="file", mail_file_path=str(tmp_path)))

    assert isinstance(memory, MemoryBackend)
    assert isinstance(file, FileBackend)
    assert file.directory == tmp_path


def test_the_smtp_backend_comes_from_the_smtp_settings() -> None:
    settings = Settings(
        mail_backend="smtp",
        smtp_host="mail.example.com",
        smtp_port=587,
        smtp_username=USERNAME,
        smtp_password=SecretStr(PASSWORD),
        smtp_use_tls=True,
        smtp_timeout=3.5,
    )

    backend = backend_from_settings(settings)

    assert isinstance(backend, SMTPBackend)
    assert (backend.host, backend.port, backend.username) == ("mail.example.com", 587, USERNAME)
    assert (backend.use_tls, backend.use_ssl, backend.timeout) == (True, False, 3.5)
    assert repr(backend) == "SMTPBackend(host='mail.example.com', port=587, username='ada')"


def test_the_smtp_backend_without_host_is_a_setup_error() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        backend_from_settings(Settings(mail_backend="smtp"))

    assert str(caught.value) == (
        "The mail_backend setting is 'smtp', and smtp_host is not set, so mail has no server "
        "to go to. Set CARBOY_SMTP_HOST to the SMTP server's host name."
    )


def test_every_backend_is_a_mail_backend(tmp_path: Path) -> None:
    backends = [
        ConsoleBackend(),
        MemoryBackend(),
        FileBackend(tmp_path),
        SMTPBackend("mail.example.com"),
    ]

    assert all(isinstance(backend, MailBackend) for backend in backends)
