from __future__ import annotations

from typing import Any

import pytest

from carboy import Carboy
from carboy.checks import CheckMessage, run_checks
from carboy.config import Settings
from carboy.exceptions import ImproperlyConfigured
from carboy.mail import ConsoleBackend, Mail, MemoryBackend, SMTPBackend, mailer_of
from carboy.testing import TestClient

SMTP = {"mail_backend": "smtp", "smtp_host": "mail.example.com", "smtp_use_tls": True}


def mail_messages(app: Carboy, *, deploy: bool = False) -> list[CheckMessage]:
    return [message for message in run_checks(app, deploy=deploy) if message.id.startswith("mail.")]


def installed(backend: Any = None, **settings: Any) -> Carboy:
    return Carboy(extensions=[Mail(backend)], settings=Settings(**settings))


def test_the_smtp_backend_without_host_is_mail_e001() -> None:
    app = installed(mail_backend="smtp")

    assert mail_messages(app) == [
        CheckMessage(
            "mail.E001",
            "error",
            "mail_backend is 'smtp', and smtp_host is not set, so mail has no server to go to.",
            "Set CARBOY_SMTP_HOST to the SMTP server's host name, or choose another "
            "CARBOY_MAIL_BACKEND.",
        )
    ]


def test_mail_e001_stops_the_app_from_starting() -> None:
    app = installed(mail_backend="smtp")

    with pytest.raises(ImproperlyConfigured) as caught, TestClient(app):
        pass

    assert "mail.E001: mail_backend is 'smtp', and smtp_host is not set" in str(caught.value)


def test_tls_and_ssl_together_are_mail_e002() -> None:
    app = installed(**SMTP, smtp_use_ssl=True)

    assert mail_messages(app) == [
        CheckMessage(
            "mail.E002",
            "error",
            "smtp_use_tls and smtp_use_ssl are both on, and they exclude each other: "
            "smtp_use_tls upgrades a plain connection with STARTTLS (usually port 587), "
            "smtp_use_ssl speaks TLS from the start (usually port 465).",
            "Turn one of them off: CARBOY_SMTP_USE_TLS=0 or CARBOY_SMTP_USE_SSL=0.",
        )
    ]


def test_a_complete_smtp_setup_passes_every_check() -> None:
    app = installed(**SMTP, smtp_username="ada")

    assert mail_messages(app, deploy=True) == []


def test_a_backend_given_to_mail_makes_the_smtp_settings_irrelevant() -> None:
    app = installed(SMTPBackend("mail.example.com", use_tls=True), mail_backend="smtp")

    assert mail_messages(app, deploy=True) == []


@pytest.mark.parametrize(
    ("backend", "fate"),
    [
        ("console", "messages are printed to the server's output"),
        ("memory", "messages are kept in the memory of the process, and lost when it ends"),
    ],
)
def test_console_and_memory_backends_are_mail_w001_in_deploy(backend: str, fate: str) -> None:
    app = installed(mail_backend=backend)

    assert mail_messages(app) == []
    assert mail_messages(app, deploy=True) == [
        CheckMessage(
            "mail.W001",
            "warning",
            f"mail_backend is {backend!r}, so mail is not sent: {fate}.",
            "Set CARBOY_MAIL_BACKEND=smtp and CARBOY_SMTP_HOST to the mail server, with "
            "CARBOY_SMTP_PORT, CARBOY_SMTP_USERNAME and CARBOY_SMTP_PASSWORD as it needs.",
        )
    ]


@pytest.mark.parametrize(
    ("backend", "fate"),
    [
        (ConsoleBackend(), "messages are printed to the server's output"),
        (MemoryBackend(), "messages are kept in the memory of the process, and lost when it ends"),
    ],
)
def test_a_console_or_memory_backend_given_to_mail_is_mail_w001_in_deploy(
    backend: Any, fate: str
) -> None:
    app = installed(backend, **SMTP)

    assert mail_messages(app, deploy=True) == [
        CheckMessage(
            "mail.W001",
            "warning",
            f"Mail() was given a {type(backend).__name__}, so mail is not sent: {fate}.",
            "Give Mail() an SMTPBackend; or give it no backend, and set "
            "CARBOY_MAIL_BACKEND=smtp and CARBOY_SMTP_HOST.",
        )
    ]


def test_a_login_over_an_unencrypted_connection_is_mail_w002_in_deploy() -> None:
    app = installed(mail_backend="smtp", smtp_host="mail.example.com", smtp_username="ada")

    assert mail_messages(app) == []
    assert mail_messages(app, deploy=True) == [
        CheckMessage(
            "mail.W002",
            "warning",
            "smtp_username is set, and smtp_use_tls and smtp_use_ssl are off, so the SMTP "
            "password and every message cross the network unencrypted.",
            "Set CARBOY_SMTP_USE_TLS=1 (STARTTLS, usually port 587) or CARBOY_SMTP_USE_SSL=1 "
            "(usually port 465).",
        )
    ]


def test_a_login_to_a_relay_on_this_machine_needs_no_tls() -> None:
    app = installed(mail_backend="smtp", smtp_host="localhost", smtp_username="ada")

    assert mail_messages(app, deploy=True) == []


def test_the_checks_run_without_the_battery_once_a_battery_asked_for_the_mailer() -> None:
    class Sender:
        name = "sender"
        requires: tuple[str, ...] = ()

        def init_app(self, app: Carboy) -> None:
            mailer_of(app)

    app = Carboy(extensions=[Sender()], settings=Settings(mail_backend="smtp"))

    assert [message.id for message in mail_messages(app)] == ["mail.E001"]


def test_the_checks_are_registered_once_when_the_battery_comes_after_a_user() -> None:
    class Sender:
        name = "sender"
        requires: tuple[str, ...] = ()

        def init_app(self, app: Carboy) -> None:
            mailer_of(app)

    app = Carboy(extensions=[Sender(), Mail()], settings=Settings(mail_backend="smtp"))

    assert [message.id for message in mail_messages(app)] == ["mail.E001"]
    assert [message.id for message in mail_messages(app, deploy=True)] == ["mail.E001"]


def test_an_app_that_never_asks_for_mail_has_no_mail_checks() -> None:
    app = Carboy(settings=Settings(mail_backend="smtp"))

    assert mail_messages(app, deploy=True) == []
