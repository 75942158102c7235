"""The mail battery's startup checks: ``mail.E001`` and on."""

from __future__ import annotations

from typing import TYPE_CHECKING

from carboy.checks import CheckMessage
from carboy.mail.backends import ConsoleBackend, MemoryBackend

if TYPE_CHECKING:
    from carboy.app import Carboy
    from carboy.mail.extension import Mail

__all__ = ["CHECK_IDS", "register_checks"]

CHECK_IDS: dict[str, str] = {
    "mail.E001": (
        "``mail_backend`` is ``smtp`` but ``smtp_host`` is not set, so mail has no server to "
        "go to. Set ``CARBOY_SMTP_HOST``, or choose another ``CARBOY_MAIL_BACKEND``."
    ),
    "mail.E002": (
        "``smtp_use_tls`` (STARTTLS, usually port 587) and ``smtp_use_ssl`` (TLS from the "
        "start, usually port 465) are both on, and they exclude each other. Turn one off."
    ),
    "mail.W001": (
        "``mail_backend`` is ``console`` or ``memory``, or ``Mail()`` was given a "
        "``ConsoleBackend`` or ``MemoryBackend``, so mail is not sent: it is printed to the "
        "server's output or kept in the process's memory. Set ``CARBOY_MAIL_BACKEND=smtp`` and "
        "``CARBOY_SMTP_HOST``, or give ``Mail()`` an ``SMTPBackend``."
    ),
    "mail.W002": (
        "With the ``smtp`` backend, ``smtp_username`` is set while ``smtp_use_tls`` and "
        "``smtp_use_ssl`` are off and ``smtp_host`` is not ``localhost``, so the password and "
        "every message cross the network unencrypted. Set ``CARBOY_SMTP_USE_TLS=1`` (STARTTLS, "
        "usually port 587) or ``CARBOY_SMTP_USE_SSL=1`` (usually port 465)."
    ),
}
"""What each check id of this module means and how to fix it: the checks reference."""


_REGISTERED = "_carboy_mail_checks"
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})
_SMTP_HINT = (
    "Set CARBOY_MAIL_BACKEND=smtp and CARBOY_SMTP_HOST to the mail server, with "
    "CARBOY_SMTP_PORT, CARBOY_SMTP_USERNAME and CARBOY_SMTP_PASSWORD as it needs."
)


def register_checks(app: Carboy) -> None:
    """Register the mail checks with ``app``, once, whoever asks first.

    They look at the app's mailer (``mailer_of(app)``) when they run.
    """
    if _REGISTERED in app.state:
        return
    setattr(app.state, _REGISTERED, True)
    app.register_check(check_settings)
    app.register_check(check_deploy, deploy=True)


def check_settings(app: Carboy) -> list[CheckMessage]:
    """Find mail settings that keep mail from being sent at all."""
    if _given_backend(app) is not None:
        return []
    settings = app.settings
    if settings.mail_backend != "smtp":
        return []
    messages = []
    if not settings.smtp_host:
        messages.append(
            CheckMessage(
                "mail.E001",
                "error",
                "mail_backend is 'smtp', and smtp_host is not set, so mail has no server to go to.",
                "Set CARBOY_SMTP_HOST to the SMTP server's host name, or choose another "
                "CARBOY_MAIL_BACKEND.",
            )
        )
    if settings.smtp_use_tls and settings.smtp_use_ssl:
        messages.append(
            CheckMessage(
                "mail.E002",
                "error",
                "smtp_use_tls and smtp_use_ssl are both on, and they exclude each other: "
                "smtp_use_tls upgrades a plain connection with STARTTLS (usually port 587), "
                "smtp_use_ssl speaks TLS from the start (usually port 465).",
                "Turn one of them off: CARBOY_SMTP_USE_TLS=0 or CARBOY_SMTP_USE_SSL=0.",
            )
        )
    return messages


def check_deploy(app: Carboy) -> list[CheckMessage]:
    """Audit the mail setup of a production site."""
    given = _given_backend(app)
    settings = app.settings
    if given is not None:
        if isinstance(given, ConsoleBackend | MemoryBackend):
            return [
                CheckMessage(
                    "mail.W001",
                    "warning",
                    f"Mail() was given a {type(given).__name__}, so mail is not sent: "
                    f"{_fate(given)}.",
                    "Give Mail() an SMTPBackend; or give it no backend, and set "
                    "CARBOY_MAIL_BACKEND=smtp and CARBOY_SMTP_HOST.",
                )
            ]
        return []
    if settings.mail_backend in ("console", "memory"):
        fate = _fate(ConsoleBackend() if settings.mail_backend == "console" else MemoryBackend())
        return [
            CheckMessage(
                "mail.W001",
                "warning",
                f"mail_backend is {settings.mail_backend!r}, so mail is not sent: {fate}.",
                _SMTP_HINT,
            )
        ]
    if (
        settings.mail_backend == "smtp"
        and settings.smtp_username
        and not (settings.smtp_use_tls or settings.smtp_use_ssl)
        and (settings.smtp_host or "").lower() not in _LOOPBACK
    ):
        return [
            CheckMessage(
                "mail.W002",
                "warning",
                "smtp_username is set, and smtp_use_tls and smtp_use_ssl are off, so the SMTP "
                "password and every message cross the network unencrypted.",
                "Set CARBOY_SMTP_USE_TLS=1 (STARTTLS, usually port 587) or "
                "CARBOY_SMTP_USE_SSL=1 (usually port 465).",
            )
        ]
    return []


def _given_backend(app: Carboy) -> object | None:
    from carboy.mail.extension import mailer_of

    mailer: Mail = mailer_of(app)
    return mailer._given_backend


def _fate(backend: object) -> str:
    if isinstance(backend, MemoryBackend):
        return "messages are kept in the memory of the process, and lost when it ends"
    return "messages are printed to the server's output"
