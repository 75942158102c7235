from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from pydantic_settings import SettingsConfigDict

from carboy import Carboy
from carboy.checks import CheckMessage, raise_for_errors, register_check, run_checks
from carboy.cli import main
from carboy.config import Settings
from carboy.exceptions import ImproperlyConfigured
from carboy.testing import TestClient

STRONG_KEY = "2nIlK7YcVNF-mUD1rrDZrOkfb8iznB-FTDfcTJFZp8h-xHE1isPG-oMnNS7WZHa8v1Q"
PRODUCTION: dict[str, Any] = {
    "debug": False,
    "secret_key": STRONG_KEY,
    "allowed_hosts": ["example.com"],
    "https_redirect": True,
    "session_cookie_secure": True,
    "content_security_policy": "default-src 'self'",
}

NEW_KEY_HINT = (
    "Set CARBOY_SECRET_KEY to a new random value of at least 50 characters, kept out of the "
    "code, such as the output of: python -c 'import secrets; print(secrets.token_urlsafe(50))'"
)
E001 = CheckMessage(
    "security.E001",
    "error",
    "debug is on, so error pages show tracebacks, source code and local variables to anyone "
    "who causes an error.",
    "Set CARBOY_DEBUG=0 in production.",
)
E002 = CheckMessage(
    "security.E002",
    "error",
    "secret_key is not set, so sessions, CSRF tokens and signed cookies cannot be signed.",
    NEW_KEY_HINT,
)
E004 = CheckMessage(
    "security.E004",
    "error",
    "allowed_hosts is empty, so only localhost names are served: requests for the site's own "
    "domain are refused with 400 Bad Request.",
    "Set CARBOY_ALLOWED_HOSTS to the host names the site serves, such as "
    '\'["example.com", "www.example.com"]\'.',
)
W002 = CheckMessage(
    "security.W002",
    "warning",
    "https_redirect is off, so pages are served over plain HTTP too, where they can be read "
    "and changed on the way.",
    "Set CARBOY_HTTPS_REDIRECT=1 once the site is served over HTTPS. If a proxy in front of "
    "the app already redirects, this warning can be ignored.",
)
W005_UNSET = CheckMessage(
    "security.W005",
    "warning",
    "session_cookie_secure is unset and https_redirect is off, so the session cookie is marked "
    "Secure only on requests that reach the app over HTTPS: a request over plain HTTP, or "
    "through a proxy that does not pass the scheme on, gets it unprotected.",
    "Set CARBOY_SESSION_COOKIE_SECURE=1, or CARBOY_HTTPS_REDIRECT=1.",
)
W011 = CheckMessage(
    "security.W011",
    "warning",
    "content_security_policy is unset: a Content-Security-Policy is recommended, as it keeps "
    "injected scripts from running.",
    "Set CARBOY_CONTENT_SECURITY_POLICY, starting from \"default-src 'self'\"; {nonce} in it "
    "becomes each request's nonce, for the inline scripts that must run.",
)
ANY_HOST_MESSAGE = (
    "allowed_hosts contains '*', so requests for any host are served: links built from the "
    "Host header, such as password-reset links, can point at a site an attacker chose."
)
ANY_HOST_HINT = (
    "List the host names the site serves instead, such as "
    "CARBOY_ALLOWED_HOSTS='[\"example.com\"]'; keep '*' for development."
)


@pytest.fixture(autouse=True)
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A clean folder and environment: no .env file, no CARBOY_* variable."""
    monkeypatch.chdir(tmp_path)
    for name in list(os.environ):
        if name.startswith("CARBOY_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(sys, "path", list(sys.path))
    yield tmp_path
    for name, module in list(sys.modules.items()):
        if str(getattr(module, "__file__", None) or "").startswith(str(tmp_path)):
            del sys.modules[name]


def production(**changes: Any) -> Settings:
    return Settings(**{**PRODUCTION, **changes})


def deploy_ids(settings: Settings) -> list[str]:
    return [message.id for message in run_checks(Carboy(settings=settings), deploy=True)]


# CheckMessage -------------------------------------------------------------------


def test_a_message_reads_as_its_id_message_and_hint() -> None:
    message = CheckMessage("core.E001", "error", "Something is wrong.", "Fix it.")

    assert str(message) == "core.E001: Something is wrong. HINT: Fix it."
    assert message.is_error is True


def test_a_message_without_a_hint_reads_as_its_id_and_message() -> None:
    message = CheckMessage("core.W001", "warning", "Something is odd.")

    assert str(message) == "core.W001: Something is odd."
    assert message.is_error is False


def test_a_message_cannot_be_changed() -> None:
    message = CheckMessage("core.W001", "warning", "Something is odd.")

    with pytest.raises(dataclasses.FrozenInstanceError):
        message.level = "error"  # type: ignore[misc]


# The deploy audit ---------------------------------------------------------------


def test_a_production_setup_passes_every_check() -> None:
    app = Carboy(settings=production())

    assert run_checks(app) == []
    assert run_checks(app, deploy=True) == []


def test_the_default_settings_fail_the_deploy_audit_on_these_points() -> None:
    messages = run_checks(Carboy(settings=Settings()), deploy=True)

    assert messages == [E002, E004, W002, W005_UNSET, W011]


def test_the_development_settings_fail_the_deploy_audit_on_debug_too() -> None:
    ids = deploy_ids(Settings(debug=True))

    assert ids == [
        "security.E001",
        "security.E002",
        "security.E004",
        "security.W002",
        "security.W005",
        "security.W011",
    ]


def test_the_deploy_checks_do_not_run_without_deploy() -> None:
    assert run_checks(Carboy(settings=Settings(debug=True))) == []


@pytest.mark.parametrize(
    ("changes", "ids"),
    [
        ({"debug": True}, ["security.E001"]),
        ({"secret_key": None}, ["security.E002"]),
        ({"secret_key": ""}, ["security.E002"]),
        ({"secret_key": STRONG_KEY[:49]}, ["security.E003"]),
        ({"secret_key": "ab" * 40}, ["security.E003"]),
        ({"secret_key": "insecure-" + STRONG_KEY}, ["security.E003"]),
        ({"secret_key": STRONG_KEY + "-changeme"}, ["security.E003"]),
        ({"allowed_hosts": []}, ["security.E004"]),
        ({"allowed_hosts": ["*"]}, ["security.W001"]),
        ({"allowed_hosts": ["example.com", "*"]}, ["security.W001"]),
        ({"https_redirect": False}, ["security.W002"]),
        ({"hsts_seconds": 0}, ["security.W003"]),
        ({"hsts_include_subdomains": False}, ["security.W004"]),
        ({"hsts_seconds": 0, "hsts_include_subdomains": False}, ["security.W003"]),
        ({"session_cookie_secure": False}, ["security.W005"]),
        ({"session_cookie_secure": None}, []),
        (
            {"session_cookie_secure": None, "https_redirect": False},
            ["security.W002", "security.W005"],
        ),
        ({"session_cookie_samesite": "none"}, ["security.W006"]),
        ({"session_cookie_samesite": "strict"}, []),
        ({"csrf_enabled": False}, ["security.W007"]),
        ({"x_frame_options": None}, ["security.W008"]),
        (
            {"x_frame_options": None, "content_security_policy": "frame-ancestors 'none'"},
            [],
        ),
        ({"x_frame_options": None, "content_security_policy": None}, ["security.W011"]),
        (
            {"x_frame_options": None, "content_security_policy": None, "frame_ancestors": None},
            ["security.W008", "security.W011"],
        ),
        ({"content_type_nosniff": False}, ["security.W009"]),
        ({"referrer_policy": None}, ["security.W010"]),
        ({"referrer_policy": ""}, ["security.W010"]),
        ({"content_security_policy": None}, ["security.W011"]),
        ({"cross_origin_opener_policy": None}, ["security.W012"]),
        ({"secret_key_fallbacks": ["old-and-short"]}, ["security.W013"]),
        ({"secret_key_fallbacks": [STRONG_KEY[::-1]]}, []),
    ],
)
def test_each_deploy_check_fails_on_its_own_setting(
    changes: dict[str, Any], ids: list[str]
) -> None:
    assert deploy_ids(production(**changes)) == ids


def test_a_weak_secret_key_is_named_with_its_weaknesses_but_never_shown() -> None:
    key = "changeme"

    messages = run_checks(Carboy(settings=production(secret_key=key)), deploy=True)

    assert messages == [
        CheckMessage(
            "security.E003",
            "error",
            "secret_key is weak (shorter than 50 characters; looks like a placeholder): "
            "whoever guesses it can forge sessions, CSRF tokens and signed cookies.",
            NEW_KEY_HINT,
        )
    ]
    assert key not in str(messages[0])


def test_a_key_of_few_different_characters_is_weak() -> None:
    key = "x" * 64

    (message,) = run_checks(Carboy(settings=production(secret_key=key)), deploy=True)

    assert message.message == (
        "secret_key is weak (fewer than 5 different characters): whoever guesses it can forge "
        "sessions, CSRF tokens and signed cookies."
    )


def test_a_weak_fallback_key_is_named_by_its_place_in_the_list() -> None:
    weak = "old" + "key"

    messages = run_checks(
        Carboy(settings=production(secret_key_fallbacks=[STRONG_KEY[::-1], weak])), deploy=True
    )

    assert messages == [
        CheckMessage(
            "security.W013",
            "warning",
            "secret_key_fallbacks[1] is weak (shorter than 50 characters): what it signed can be "
            "forged for as long as it is listed.",
            "Remove it from CARBOY_SECRET_KEY_FALLBACKS once the sessions it signed have expired.",
        )
    ]


def test_no_message_ever_shows_the_secret_key() -> None:
    weak = "s3cr3t-" + "value"
    settings = production(debug=True, secret_key=weak, secret_key_fallbacks=[weak + "-old"])

    text = "\n".join(str(message) for message in run_checks(Carboy(settings=settings), deploy=True))

    assert "security.E003" in text
    assert "security.W013" in text
    assert weak not in text


def test_the_debug_message_word_for_word() -> None:
    messages = run_checks(Carboy(settings=production(debug=True)), deploy=True)

    assert messages == [E001]
    assert str(messages[0]) == (
        "security.E001: debug is on, so error pages show tracebacks, source code and local "
        "variables to anyone who causes an error. HINT: Set CARBOY_DEBUG=0 in production."
    )


def test_the_session_cookie_message_when_it_is_off() -> None:
    messages = run_checks(Carboy(settings=production(session_cookie_secure=False)), deploy=True)

    assert messages == [
        CheckMessage(
            "security.W005",
            "warning",
            "session_cookie_secure is off, so the session cookie is sent over plain HTTP too, "
            "where it can be stolen.",
            "Set CARBOY_SESSION_COOKIE_SECURE=1.",
        )
    ]


def test_the_framing_message_word_for_word() -> None:
    messages = run_checks(Carboy(settings=production(x_frame_options=None)), deploy=True)

    assert messages == [
        CheckMessage(
            "security.W008",
            "warning",
            "x_frame_options is unset and no CSP frame-ancestors directive is sent, so other "
            "sites can show these pages in a frame and trick visitors into clicking on them "
            "(clickjacking).",
            "Set CARBOY_X_FRAME_OPTIONS=DENY (the default), or put frame-ancestors 'none' in "
            "the content security policy.",
        )
    ]


def test_hints_name_the_environment_variables_of_a_settings_subclass() -> None:
    class SiteSettings(Settings):
        model_config = SettingsConfigDict(env_prefix="MYSITE_")

    messages = run_checks(
        Carboy(settings=SiteSettings(**{**PRODUCTION, "debug": True})), deploy=True
    )

    assert [message.hint for message in messages] == ["Set MYSITE_DEBUG=0 in production."]


# The checks of every start --------------------------------------------------------


def test_any_host_allowed_is_a_warning_at_every_start() -> None:
    messages = run_checks(Carboy(settings=production(allowed_hosts=["*"])))

    assert messages == [CheckMessage("core.W001", "warning", ANY_HOST_MESSAGE, ANY_HOST_HINT)]


def test_a_deploy_run_says_any_host_allowed_once_as_a_security_warning() -> None:
    messages = run_checks(Carboy(settings=production(allowed_hosts=["*"])), deploy=True)

    assert messages == [CheckMessage("security.W001", "warning", ANY_HOST_MESSAGE, ANY_HOST_HINT)]


# Registered checks -----------------------------------------------------------------


def uploads_missing(app: Carboy) -> list[CheckMessage]:
    return [CheckMessage("site.E001", "error", "The uploads folder is missing.", "Create it.")]


def mail_unset(app: Carboy) -> list[CheckMessage]:
    return [CheckMessage("site.W001", "warning", "No mail server is set.", None)]


def all_well(app: Carboy) -> None:
    return None


def test_registered_checks_run_after_carboys_own_in_the_order_registered() -> None:
    app = Carboy(settings=production(allowed_hosts=["*"]))
    register_check(app, mail_unset)
    register_check(app, all_well)
    register_check(app, uploads_missing)

    ids = [message.id for message in run_checks(app)]

    assert ids == ["core.W001", "site.W001", "site.E001"]


def test_a_deploy_check_runs_only_in_a_deploy_run() -> None:
    app = Carboy(settings=production())
    register_check(app, uploads_missing, deploy=True)
    register_check(app, mail_unset)

    assert [message.id for message in run_checks(app)] == ["site.W001"]
    assert [message.id for message in run_checks(app, deploy=True)] == ["site.E001", "site.W001"]


def test_register_check_returns_the_function() -> None:
    assert register_check(Carboy(), mail_unset) is mail_unset


def test_a_check_that_returns_something_else_is_refused() -> None:
    app = Carboy(settings=production())

    def sloppy(app: Carboy) -> list[str]:
        return ["all fine"]

    register_check(app, sloppy)  # type: ignore[arg-type]

    with pytest.raises(ImproperlyConfigured) as info:
        run_checks(app)

    assert str(info.value) == (
        "The check test_a_check_that_returns_something_else_is_refused.<locals>.sloppy "
        "returned 'all fine', which is not a CheckMessage. A check returns a list of "
        "CheckMessage, empty when all is well."
    )


def test_a_check_that_cannot_be_called_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured) as info:
        register_check(Carboy(), "uploads_missing")  # type: ignore[arg-type]

    assert str(info.value) == (
        "The check 'uploads_missing' is not callable. A check is a function that takes the "
        "app and returns a list of CheckMessage."
    )


def test_a_check_cannot_be_registered_once_the_app_has_started() -> None:
    app = Carboy(settings=production(allowed_hosts=["testserver"]))
    TestClient(app).get("/")

    with pytest.raises(ImproperlyConfigured) as info:
        register_check(app, mail_unset)

    assert str(info.value) == (
        "Cannot register the check mail_unset: the app has started serving, and its routes, "
        "middleware and hooks were fixed at startup. Register it before the app starts: at "
        "import time, or in an extension's init_app()."
    )


# At startup -----------------------------------------------------------------------


def test_startup_errors_are_raised_together(caplog: pytest.LogCaptureFixture) -> None:
    messages = [
        CheckMessage("site.W001", "warning", "No mail server is set."),
        CheckMessage("site.E001", "error", "The uploads folder is missing.", "Create it."),
        CheckMessage("db.E002", "error", "The database is unreachable.", "Start it."),
    ]

    with (
        caplog.at_level(logging.WARNING, logger="carboy.checks"),
        pytest.raises(ImproperlyConfigured) as info,
    ):
        raise_for_errors(messages)

    assert str(info.value) == (
        "carboy found 2 problems at startup:\n"
        "  site.E001: The uploads folder is missing. HINT: Create it.\n"
        "  db.E002: The database is unreachable. HINT: Start it."
    )
    assert [(record.name, record.levelno, record.getMessage()) for record in caplog.records] == [
        ("carboy.checks", logging.WARNING, "site.W001: No mail server is set.")
    ]


def test_a_single_startup_error_is_one_problem() -> None:
    with pytest.raises(ImproperlyConfigured) as info:
        raise_for_errors(uploads_missing(Carboy()))

    assert str(info.value) == (
        "carboy found 1 problem at startup:\n"
        "  site.E001: The uploads folder is missing. HINT: Create it."
    )


def test_warnings_alone_do_not_stop_the_start(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="carboy.checks"):
        raise_for_errors(run_checks(Carboy(settings=production(allowed_hosts=["*"]))))

    assert [record.getMessage() for record in caplog.records] == [
        f"core.W001: {ANY_HOST_MESSAGE} HINT: {ANY_HOST_HINT}"
    ]


# carboy check ---------------------------------------------------------------------


def write(path: Path, source: str) -> None:
    path.write_text(textwrap.dedent(source))
    importlib.invalidate_caches()


def invoke(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def write_site(project: Path, settings: str, extra: str = "") -> None:
    header = f"""
        from carboy import Carboy
        from carboy.checks import CheckMessage, register_check
        from carboy.config import Settings

        app = Carboy(settings=Settings({settings}))
        """
    write(project / "site_app.py", textwrap.dedent(header) + textwrap.dedent(extra))


PRODUCTION_ARGS = (
    f"secret_key={STRONG_KEY!r}, allowed_hosts=['example.com'], https_redirect=True, "
    "session_cookie_secure=True, content_security_policy=\"default-src 'self'\""
)


def test_check_of_a_sound_app_finds_no_problems(project: Path) -> None:
    write_site(project, PRODUCTION_ARGS)

    result = invoke("check", "--deploy", "--app", "site_app:app")

    assert result.exit_code == 0, result.output
    assert result.stdout == "System check found no problems.\n"


def test_check_deploy_lists_errors_then_warnings_and_exits_with_1(project: Path) -> None:
    write_site(project, "")

    result = invoke("check", "--deploy", "--app", "site_app:app")

    assert result.exit_code == 1
    assert result.stdout == (
        f"{E002}\n{E004}\n{W002}\n{W005_UNSET}\n{W011}\n"
        "System check found 2 errors and 3 warnings.\n"
    )


def test_check_without_deploy_runs_only_the_checks_of_every_start(project: Path) -> None:
    write_site(project, "debug=True, allowed_hosts=['*']")

    result = invoke("check", "--app", "site_app:app")

    assert result.exit_code == 0
    assert result.stdout == (
        f"core.W001: {ANY_HOST_MESSAGE} HINT: {ANY_HOST_HINT}\nSystem check found 1 warning.\n"
    )


def test_check_puts_errors_first_whatever_the_order_of_the_checks(project: Path) -> None:
    write_site(
        project,
        PRODUCTION_ARGS,
        """
        def mail_unset(app):
            return [CheckMessage("site.W001", "warning", "No mail server is set.")]

        def uploads_missing(app):
            return [CheckMessage("site.E001", "error", "The uploads folder is missing.")]

        register_check(app, mail_unset)
        register_check(app, uploads_missing)
        """,
    )

    result = invoke("--app", "site_app:app", "check")

    assert result.exit_code == 1
    assert result.stdout == (
        "site.E001: The uploads folder is missing.\n"
        "site.W001: No mail server is set.\n"
        "System check found 1 error and 1 warning.\n"
    )


def test_check_finds_app_py_in_the_current_folder(project: Path) -> None:
    write(
        project / "app.py",
        """
        from carboy import Carboy
        from carboy.config import Settings

        app = Carboy(settings=Settings(debug=True))
        """,
    )

    result = invoke("check")

    assert result.exit_code == 0, result.output
    assert result.stdout == "System check found no problems.\n"


def test_check_never_prints_the_secret_key(project: Path) -> None:
    write_site(project, "debug=True, secret_key='hunter' + '2-changeme'")

    result = invoke("check", "--deploy", "--app", "site_app:app")

    assert result.exit_code == 1
    assert "security.E003: secret_key is weak" in result.stdout
    assert "hunter2" not in result.output


def test_check_of_an_asgi_app_that_is_not_a_carboy_app_says_it_has_none(project: Path) -> None:
    write(
        project / "plain.py",
        """
        async def app(scope: object, receive: object, send: object) -> None:
            return None
        """,
    )

    result = invoke("check", "--app", "plain:app")

    assert result.exit_code == 1
    assert result.stderr == (
        "Error: 'plain:app' is a function, not a carboy app, so it has no checks to run.\n"
    )


# A battery that signs with the secret key ------------------------------------------

NO_KEY = (
    "core.E001: secret_key is not set and debug is off, but the auth battery signs sessions, "
    "CSRF tokens and links with it: every sign-in would fail. HINT: Set CARBOY_SECRET_KEY to "
    "a long random value kept out of the code, such as the output of: python -c 'import "
    "secrets; print(secrets.token_urlsafe(50))' (a project made by carboy new has one in "
    ".env), or set CARBOY_DEBUG=1 in development."
)


def auth_site(project: Path, settings: str) -> None:
    write(
        project / "site_app.py",
        f"""
        from carboy import Carboy
        from carboy.auth import Auth
        from carboy.config import Settings
        from carboy.db import Database

        app = Carboy(
            settings=Settings({settings}),
            extensions=[Database("sqlite:///{project / "site.db"}"), Auth()],
        )
        """,
    )


def test_an_app_with_auth_and_no_secret_key_refuses_to_start_and_check_says_why(
    project: Path,
) -> None:
    auth_site(project, "debug=False")
    sys.path.insert(0, str(project))
    app = importlib.import_module("site_app").app

    with pytest.raises(ImproperlyConfigured) as raised, TestClient(app):
        pass
    result = invoke("check", "--app", "site_app:app")

    assert str(raised.value) == f"carboy found 1 problem at startup:\n  {NO_KEY}"
    assert result.exit_code == 1
    assert result.stdout == f"{NO_KEY}\nSystem check found 1 error.\n"


def test_an_empty_secret_key_is_no_key(project: Path) -> None:
    auth_site(project, "debug=False, secret_key=''")

    result = invoke("check", "--app", "site_app:app")

    assert result.exit_code == 1
    assert result.stdout == f"{NO_KEY}\nSystem check found 1 error.\n"


@pytest.mark.parametrize("settings", ["debug=True", f"debug=False, secret_key={STRONG_KEY!r}"])
def test_an_app_with_auth_starts_with_a_key_or_in_debug(project: Path, settings: str) -> None:
    auth_site(project, settings)

    result = invoke("check", "--app", "site_app:app")

    assert (result.exit_code, result.stdout) == (0, "System check found no problems.\n")
