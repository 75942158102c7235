"""``Mail``: everything the mail battery adds to an app, in one place."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import jinja2

from carboy.exceptions import ImproperlyConfigured
from carboy.mail.backends import MailBackend, backend_from_settings
from carboy.mail.checks import register_checks
from carboy.mail.message import EmailMessage
from carboy.templating import templates_for

if TYPE_CHECKING:
    from carboy.app import Carboy
    from carboy.requests import HTTPConnection

__all__ = ["Mail", "mailer_of"]

_DEFAULT_MAILER = "_carboy_mailer"
_state_lock = threading.Lock()

_TEMPLATE_MARKS = ("{{", "{%", "{#")


def mailer_of(app: Carboy) -> Mail:
    """Return the app's ``Mail``: the installed extension, else one made from the settings.

    So a battery can send mail whether or not the app lists ``Mail()``;
    the one made from the settings is kept in ``app.state``, under a
    private name, for the app's life. When it is made before the app
    starts, the mail checks are registered with the app too.

    Raises:
        ImproperlyConfigured: when the extension named ``"mail"`` is not a ``Mail``.

    Example::

        await mailer_of(request.app).send_template(
            user.email, "Reset your password", "carboy/auth/email/password_reset",
            {"link": link},
        )
    """
    installed = app.extensions.get(Mail.name)
    if installed is not None:
        if not isinstance(installed, Mail):
            raise ImproperlyConfigured(
                f"The extension named {Mail.name!r} ({type(installed).__name__}) is not a "
                "carboy.mail.Mail, so the app's mail cannot be sent through it. Rename that "
                "extension, or install carboy.mail.Mail instead."
            )
        return installed
    state = app.state
    if _DEFAULT_MAILER not in state:
        with _state_lock:
            if _DEFAULT_MAILER not in state:
                mailer = Mail()
                mailer._app = app
                if not app.is_started:
                    register_checks(app)
                setattr(state, _DEFAULT_MAILER, mailer)
    mailer_in_state: Mail = getattr(state, _DEFAULT_MAILER)
    return mailer_in_state


class Mail:
    """The mail battery: send messages, from code or from templates.

    Args:
        backend: Where messages go. ``None``: the backend that the
            ``mail_backend`` setting names (``console`` by default), made on
            first use from the other mail settings.

    Example::

        app = Carboy(extensions=[Mail()])

        @app.post("/invite")
        async def invite(request: Request, email: Annotated[str, Form()]) -> dict[str, str]:
            await mailer_of(request.app).send_template(
                email, "You are invited", "emails/invite", {"sender": "Ada"}
            )
            return {"status": "sent"}
    """

    name = "mail"
    requires: Sequence[str] = ()

    def __init__(self, backend: MailBackend | None = None) -> None:
        self._given_backend = backend
        self._backend = backend
        self._app: Carboy | None = None
        self._text_environment: jinja2.Environment | None = None

    # Extension ------------------------------------------------------------

    def init_app(self, app: Carboy) -> None:
        """Register the mail checks."""
        self._app = app
        register_checks(app)

    @property
    def app(self) -> Carboy:
        """The app this mailer belongs to."""
        if self._app is None:
            raise ImproperlyConfigured(
                "This Mail is not installed in an app. Add it to Carboy(extensions=[...]), or "
                "get the app's mailer with mailer_of(app)."
            )
        return self._app

    @property
    def backend(self) -> MailBackend:
        """The backend messages go to, from the argument or made from the settings.

        Raises:
            ImproperlyConfigured: when the mail settings are wrong, such as
                the smtp backend without ``smtp_host``.
        """
        if self._backend is None:
            self._backend = backend_from_settings(self.app.settings)
        return self._backend

    # Sending --------------------------------------------------------------

    async def send(self, message: EmailMessage) -> int:
        """Send one message; a message with no ``from_`` is sent from the ``mail_from`` setting.

        Returns:
            How many messages were sent: 1.

        Raises:
            InvalidMessageError: when the message cannot be built.
            MailError: when the backend could not deliver it.
        """
        return await self.send_many([message])

    async def send_many(self, messages: Sequence[EmailMessage]) -> int:
        """Send several messages at once; over SMTP, on one connection.

        Returns:
            How many messages were sent.

        Raises:
            InvalidMessageError: when a message cannot be built; none is sent.
            MailError: when the backend could not deliver them.
        """
        sender = self.app.settings.mail_from
        ready = [
            message if message.from_ is not None else dataclasses.replace(message, from_=sender)
            for message in messages
        ]
        if not ready:
            return 0
        return await self.backend.send(ready)

    async def send_template(
        self,
        to: str | Sequence[str],
        subject: str,
        template: str,
        context: Mapping[str, Any] | None = None,
        *,
        request: HTTPConnection | None = None,
        from_: str | None = None,
    ) -> int:
        """Render a message from templates, as ``render_message`` does, and send it.

        Returns:
            How many messages were sent: 1.

        Raises:
            jinja2.TemplateNotFound: when ``<template>.txt`` is missing.
            InvalidMessageError: when the message cannot be built, such as a
                rendered subject with a line break.
            MailError: when the backend could not deliver it.

        Example::

            await mailer_of(app).send_template(
                "ada@example.com", "Welcome, {{ name }}", "emails/welcome", {"name": "Ada"}
            )
        """
        message = self.render_message(to, subject, template, context, request=request, from_=from_)
        return await self.send(message)

    def render_message(
        self,
        to: str | Sequence[str],
        subject: str,
        template: str,
        context: Mapping[str, Any] | None = None,
        *,
        request: HTTPConnection | None = None,
        from_: str | None = None,
    ) -> EmailMessage:
        """Make a message whose bodies are rendered from the app's templates.

        The plain-text body comes from ``<template>.txt``, which must exist;
        the HTML body from ``<template>.html``, when it exists. Both are
        looked up like every template of the app, so an app overrides a
        battery's email by having its own at the same path. The HTML body
        is autoescaped; the text body is not, since it is not HTML: a
        ``<`` or ``&`` in a value stays as it is.

        Args:
            to: One address, or a list of them.
            subject: The subject; when it holds ``{{``, ``{%`` or ``{#``, it
                is a template rendered (unescaped) with ``context``, and
                stripped of surrounding white space.
            template: The templates' path without extension, such as
                ``"emails/welcome"`` for ``emails/welcome.txt`` and
                ``emails/welcome.html``.
            context: The templates' variables.
            request: The request, if any: templates then see it as
                ``request``, and can call ``url_for()``.
            from_: The sender; ``None``: the ``mail_from`` setting.

        Raises:
            ValueError: when ``template`` ends with ``.txt`` or ``.html``.
            jinja2.TemplateNotFound: when ``<template>.txt`` is missing; the
                message lists the folders searched.
            InvalidMessageError: when the message cannot be built.
        """
        if template.endswith((".txt", ".html")):
            stem = template.rpartition(".")[0]
            raise ValueError(
                f"The email template {template!r} is named with its extension. Give the name "
                f"without it, {stem!r}: the text body comes from {stem + '.txt'!r}, and the "
                f"HTML body from {stem + '.html'!r} if it exists."
            )
        templates = templates_for(self.app)
        variables = dict(context or {})
        if request is not None:
            variables["request"] = request
        text_environment = self._text_templates()
        text_name = f"{template}.txt"
        html_name = f"{template}.html"
        try:
            text_template = text_environment.get_template(text_name)
        except jinja2.TemplateNotFound as exc:
            if exc.name != text_name:
                raise
            raise jinja2.TemplateNotFound(
                text_name,
                f"{exc.message} Every email needs its plain-text body, {text_name!r}; an HTML "
                f"body, {html_name!r}, is optional.",
            ) from None
        body = text_template.render(variables)
        html: str | None = None
        try:
            html_template = templates.get_template(html_name)
        except jinja2.TemplateNotFound as exc:
            if exc.name != html_name:
                raise
        else:
            html = html_template.render(variables)
        if any(mark in subject for mark in _TEMPLATE_MARKS):
            subject = text_environment.from_string(subject).render(variables).strip()
        recipients = [to] if isinstance(to, str) else list(to)
        return EmailMessage(to=recipients, subject=subject, body=body, html=html, from_=from_)

    def _text_templates(self) -> jinja2.Environment:
        """The app's template environment, with autoescaping off, for plain-text bodies."""
        environment = templates_for(self.app).environment
        text = self._text_environment
        if text is None or text.linked_to is not environment:
            # An overlay shares the loader, filters, tests and globals, and
            # keeps its own cache of compiled templates: a .txt compiled
            # here never escapes, the same file rendered as a page still does.
            text = environment.overlay(autoescape=False, bytecode_cache=None)
            self._text_environment = text
        # Set on the app's environment after the overlay may have been made.
        text.auto_reload = environment.auto_reload
        text.undefined = environment.undefined
        return text
