"""carboy's mail battery: messages, templates, and backends from console to SMTP.

::

    from carboy import Carboy, Request
    from carboy.mail import Mail, mailer_of

    app = Carboy(extensions=[Mail()])

    @app.post("/welcome")
    async def welcome(request: Request) -> dict[str, str]:
        await mailer_of(request.app).send_template(
            "ada@example.com", "Welcome", "emails/welcome", {"name": "Ada"}
        )
        return {"status": "sent"}

The ``mail_backend`` setting decides where mail goes: ``console`` (the
default, for development), ``smtp``, ``memory`` (tests) or ``file``.
``mailer_of(app)`` works without ``Mail()`` in the extensions too, from the
settings, so other batteries can send mail.
"""

from __future__ import annotations

from carboy.mail.backends import (
    ConsoleBackend,
    FileBackend,
    MailBackend,
    MemoryBackend,
    SMTPBackend,
    backend_from_settings,
)
from carboy.mail.exceptions import InvalidMessageError, MailError
from carboy.mail.extension import Mail, mailer_of
from carboy.mail.message import EmailMessage

__all__ = [
    "ConsoleBackend",
    "EmailMessage",
    "FileBackend",
    "InvalidMessageError",
    "Mail",
    "MailBackend",
    "MailError",
    "MemoryBackend",
    "SMTPBackend",
    "backend_from_settings",
    "mailer_of",
]
