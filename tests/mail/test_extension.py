from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pytest

from carboy import Carboy, Request
from carboy.config import Settings
from carboy.exceptions import ImproperlyConfigured
from carboy.mail import (
    ConsoleBackend,
    EmailMessage,
    InvalidMessageError,
    Mail,
    MemoryBackend,
    mailer_of,
)
from carboy.templating import templates_for
from carboy.testing import TestClient


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The working folder of the app under test, with its templates folder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "templates").mkdir()
    return tmp_path


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def app_with_outbox(**settings: Any) -> tuple[Carboy, MemoryBackend]:
    backend = MemoryBackend()
    app = Carboy(extensions=[Mail(backend)], settings=Settings(**settings))
    return app, backend


def outbox_of(app: Carboy) -> list[EmailMessage]:
    backend = mailer_of(app).backend
    assert isinstance(backend, MemoryBackend)
    return backend.outbox


# Sending ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_send_fills_in_the_sender_from_the_mail_from_setting() -> None:
    app, backend = app_with_outbox(mail_from="Site <noreply@example.com>")
    message = EmailMessage(to=["ada@example.com"], subject="Hi", body="Hello.")

    count = await mailer_of(app).send(message)

    assert count == 1
    assert backend.outbox == [
        EmailMessage(
            to=["ada@example.com"],
            subject="Hi",
            body="Hello.",
            from_="Site <noreply@example.com>",
        )
    ]
    assert message.from_ is None


@pytest.mark.anyio
async def test_send_keeps_a_sender_that_the_message_names() -> None:
    app, backend = app_with_outbox()

    await mailer_of(app).send(
        EmailMessage(to=["ada@example.com"], subject="Hi", body=".", from_="me@example.com")
    )

    assert backend.outbox[0].from_ == "me@example.com"


@pytest.mark.anyio
async def test_send_many_sends_every_message_in_one_call() -> None:
    app, backend = app_with_outbox()
    messages = [
        EmailMessage(to=[f"user{n}@example.com"], subject="News", body=".") for n in range(3)
    ]

    count = await mailer_of(app).send_many(messages)

    assert count == 3
    assert [message.to for message in backend.outbox] == [
        ["user0@example.com"],
        ["user1@example.com"],
        ["user2@example.com"],
    ]


@pytest.mark.anyio
async def test_send_many_of_nothing_sends_nothing() -> None:
    app, backend = app_with_outbox()

    assert await mailer_of(app).send_many([]) == 0
    assert backend.outbox == []


# The backend ---------------------------------------------------------------------


def test_the_backend_comes_from_the_settings_when_not_given() -> None:
    app = Carboy(extensions=[Mail()], settings=Settings(mail_backend="memory"))

    backend = mailer_of(app).backend

    assert isinstance(backend, MemoryBackend)
    assert mailer_of(app).backend is backend


def test_the_default_backend_prints_to_the_console() -> None:
    app = Carboy(extensions=[Mail()], settings=Settings())

    assert isinstance(mailer_of(app).backend, ConsoleBackend)


def test_a_mail_outside_an_app_says_how_to_install_it() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        _ = Mail().app

    assert str(caught.value) == (
        "This Mail is not installed in an app. Add it to Carboy(extensions=[...]), or get the "
        "app's mailer with mailer_of(app)."
    )


# mailer_of ---------------------------------------------------------------------


def test_mailer_of_returns_the_installed_extension() -> None:
    mail = Mail(MemoryBackend())
    app = Carboy(extensions=[mail])

    assert mailer_of(app) is mail


def test_mailer_of_without_the_battery_keeps_one_mailer_from_the_settings() -> None:
    app = Carboy(settings=Settings(mail_backend="memory", mail_from="site@example.com"))

    mailer = mailer_of(app)

    assert mailer_of(app) is mailer
    assert mailer.app is app
    assert isinstance(mailer.backend, MemoryBackend)
    assert "mail" not in app.extensions


@pytest.mark.anyio
async def test_mail_sent_through_the_default_mailer_lands_in_one_outbox() -> None:
    app = Carboy(settings=Settings(mail_backend="memory", mail_from="site@example.com"))

    await mailer_of(app).send(EmailMessage(to=["ada@example.com"], subject="One", body="."))
    await mailer_of(app).send(EmailMessage(to=["ada@example.com"], subject="Two", body="."))

    assert [(m.subject, m.from_) for m in outbox_of(app)] == [
        ("One", "site@example.com"),
        ("Two", "site@example.com"),
    ]


def test_mailer_of_refuses_another_extension_named_mail() -> None:
    class Impostor:
        name = "mail"
        requires: tuple[str, ...] = ()

        def init_app(self, app: Carboy) -> None:
            pass

    app = Carboy(extensions=[Impostor()])

    with pytest.raises(ImproperlyConfigured) as caught:
        mailer_of(app)

    assert str(caught.value) == (
        "The extension named 'mail' (Impostor) is not a carboy.mail.Mail, so the app's mail "
        "cannot be sent through it. Rename that extension, or install carboy.mail.Mail "
        "instead."
    )


# Templates ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_send_template_renders_the_text_and_the_html_body(project: Path) -> None:
    write(project / "templates/emails/welcome.txt", "Welcome, {{ name }}!\n")
    write(project / "templates/emails/welcome.html", "<p>Welcome, <b>{{ name }}</b>!</p>")
    app, backend = app_with_outbox()

    count = await mailer_of(app).send_template(
        "ada@example.com", "Welcome", "emails/welcome", {"name": "Ada"}
    )

    assert count == 1
    [message] = backend.outbox
    assert message.to == ["ada@example.com"]
    assert message.subject == "Welcome"
    assert message.body == "Welcome, Ada!"
    assert message.html == "<p>Welcome, <b>Ada</b>!</p>"
    assert message.from_ == "webmaster@localhost"


@pytest.mark.anyio
async def test_the_html_body_is_escaped_and_the_text_body_is_not(project: Path) -> None:
    write(project / "templates/emails/note.txt", "{{ note }}")
    write(project / "templates/emails/note.html", "<p>{{ note }}</p>")
    app, backend = app_with_outbox()
    note = 'Tom & Jerry <tom@example.com> said "hi"'

    await mailer_of(app).send_template("ada@example.com", "Note", "emails/note", {"note": note})

    [message] = backend.outbox
    assert message.body == note
    assert message.html == "<p>Tom &amp; Jerry &lt;tom@example.com&gt; said &#34;hi&#34;</p>"


@pytest.mark.anyio
async def test_text_templates_included_or_extended_are_not_escaped_either(project: Path) -> None:
    write(project / "templates/emails/base.txt", "{% block body %}{% endblock %}\n-- {{ site }}")
    write(
        project / "templates/emails/reset.txt",
        '{% extends "emails/base.txt" %}{% block body %}{% include "emails/link.txt" %}'
        "{% endblock %}",
    )
    write(project / "templates/emails/link.txt", "Go to {{ link }}")
    app, backend = app_with_outbox()

    await mailer_of(app).send_template(
        "ada@example.com",
        "Reset",
        "emails/reset",
        {"link": "https://example.com/reset?a=1&b=<2>", "site": "Tom & Co"},
    )

    assert backend.outbox[0].body == "Go to https://example.com/reset?a=1&b=<2>\n-- Tom & Co"


@pytest.mark.anyio
async def test_a_text_template_rendered_as_a_page_stays_escaped(project: Path) -> None:
    write(project / "templates/emails/note.txt", "{{ note }}")
    app, backend = app_with_outbox()

    await mailer_of(app).send_template("ada@example.com", "N", "emails/note", {"note": "<b>"})
    page = templates_for(app).render_to_string("emails/note.txt", {"note": "<b>"})

    assert backend.outbox[0].body == "<b>"
    assert page == "&lt;b&gt;"


@pytest.mark.anyio
async def test_without_an_html_template_the_message_is_text_only(project: Path) -> None:
    write(project / "templates/emails/plain.txt", "Just text.")
    app, backend = app_with_outbox()

    await mailer_of(app).send_template(["ada@example.com", "bob@example.com"], "S", "emails/plain")

    [message] = backend.outbox
    assert message.to == ["ada@example.com", "bob@example.com"]
    assert message.body == "Just text."
    assert message.html is None


@pytest.mark.anyio
async def test_a_subject_with_template_marks_is_rendered_unescaped_and_stripped(
    project: Path,
) -> None:
    write(project / "templates/emails/plain.txt", "Text.")
    app, backend = app_with_outbox()

    await mailer_of(app).send_template(
        "ada@example.com",
        "  {{ count }} new messages for {{ name }}  ",
        "emails/plain",
        {"count": 3, "name": "Tom & Jerry"},
    )

    assert backend.outbox[0].subject == "3 new messages for Tom & Jerry"


@pytest.mark.anyio
async def test_a_plain_subject_is_kept_as_it_is(project: Path) -> None:
    write(project / "templates/emails/plain.txt", "Text.")
    app, backend = app_with_outbox()

    await mailer_of(app).send_template("ada@example.com", " 100% {sure} ", "emails/plain")

    assert backend.outbox[0].subject == " 100% {sure} "


@pytest.mark.anyio
async def test_a_rendered_subject_with_a_line_break_is_refused(project: Path) -> None:
    write(project / "templates/emails/plain.txt", "Text.")
    app, backend = app_with_outbox()

    with pytest.raises(InvalidMessageError):
        await mailer_of(app).send_template(
            "ada@example.com",
            "Hello {{ name }}",
            "emails/plain",
            {"name": "Ada\r\nBcc: victim@example.com"},
        )

    assert backend.outbox == []


@pytest.mark.anyio
async def test_a_missing_text_template_is_a_clear_error(project: Path) -> None:
    write(project / "templates/emails/welcome.html", "<p>Welcome</p>")
    app, backend = app_with_outbox()

    with pytest.raises(jinja2.TemplateNotFound) as caught:
        await mailer_of(app).send_template("ada@example.com", "Welcome", "emails/welcome")

    folder = project / "templates"
    assert caught.value.name == "emails/welcome.txt"
    assert str(caught.value) == (
        "The template 'emails/welcome.txt' is in none of the template folders, searched in "
        f"this order: {folder}. Create it in one of them, or fix its "
        "name. Every email needs its plain-text body, 'emails/welcome.txt'; an HTML body, "
        "'emails/welcome.html', is optional."
    )
    assert backend.outbox == []


@pytest.mark.anyio
async def test_a_template_missing_inside_the_html_template_is_not_taken_for_no_html(
    project: Path,
) -> None:
    write(project / "templates/emails/welcome.txt", "Welcome")
    write(project / "templates/emails/welcome.html", '{% include "emails/gone.html" %}')
    app, _ = app_with_outbox()

    with pytest.raises(jinja2.TemplateNotFound) as caught:
        await mailer_of(app).send_template("ada@example.com", "Welcome", "emails/welcome")

    assert caught.value.name == "emails/gone.html"


@pytest.mark.parametrize("name", ["emails/welcome.txt", "emails/welcome.html"])
def test_a_template_name_with_its_extension_is_refused(project: Path, name: str) -> None:
    app, _ = app_with_outbox()

    with pytest.raises(ValueError) as caught:
        mailer_of(app).render_message("ada@example.com", "Welcome", name)

    assert str(caught.value) == (
        f"The email template {name!r} is named with its extension. Give the name without it, "
        "'emails/welcome': the text body comes from 'emails/welcome.txt', and the HTML body "
        "from 'emails/welcome.html' if it exists."
    )


def test_render_message_gives_the_message_without_sending_it(project: Path) -> None:
    write(project / "templates/emails/welcome.txt", "Hi {{ name }}")
    app, backend = app_with_outbox()

    message = mailer_of(app).render_message(
        "ada@example.com", "Hi", "emails/welcome", {"name": "Ada"}, from_="me@example.com"
    )

    assert message == EmailMessage(
        to=["ada@example.com"], subject="Hi", body="Hi Ada", from_="me@example.com"
    )
    assert backend.outbox == []


def test_templates_rendered_with_the_request_can_build_links(project: Path) -> None:
    write(
        project / "templates/emails/reset.txt",
        "Reset: {{ url_for('reset_password', token=token) }}?next={{ next }}",
    )
    write(
        project / "templates/emails/reset.html",
        "<a href=\"{{ url_for('reset_password', token=token) }}?next={{ next }}\">Reset</a>",
    )
    app, backend = app_with_outbox()

    @app.get("/reset/{token}", name="reset_password")
    def reset_password(token: str) -> dict[str, str]:
        return {"token": token}

    @app.get("/forgot")
    async def forgot(request: Request) -> dict[str, int]:
        sent = await mailer_of(request.app).send_template(
            "ada@example.com",
            "Reset",
            "emails/reset",
            {"token": "t1", "next": "/a?b=1&c=2"},
            request=request,
        )
        return {"sent": sent}

    response = TestClient(app).get("/forgot")

    assert response.json() == {"sent": 1}
    [message] = backend.outbox
    assert message.body == "Reset: http://testserver/reset/t1?next=/a?b=1&c=2"
    assert message.html == '<a href="http://testserver/reset/t1?next=/a?b=1&amp;c=2">Reset</a>'
