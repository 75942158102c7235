"""Checks: setup problems found before the first request, each with a stable id.

A check is a function that looks at the app and returns what is wrong, as
``CheckMessage`` objects with an id such as ``security.E001`` and a hint
that says how to fix it. The app runs its checks at startup and refuses to
start while any of them reports an error; ``carboy check`` runs them from
the command line, and ``carboy check --deploy`` adds the audit of a
production setup: debug off, a strong secret key, allowed hosts, HTTPS,
cookies and security headers.

Ids: ``core.*`` for the app's own setup, ``security.*`` for the deploy
audit, ``<battery>.*`` for a battery's checks. ``E`` marks an error, ``W`` a
warning.

Example::

    def check_upload_folder(app: Carboy) -> list[CheckMessage]:
        if not Path("uploads").is_dir():
            return [CheckMessage("myapp.E001", "error", "The uploads folder is missing.",
                                 "Create it: mkdir uploads")]
        return []

    register_check(app, check_upload_folder)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from carboy.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from carboy.app import Carboy
    from carboy.config import Settings

__all__ = [
    "CHECK_IDS",
    "CheckFunction",
    "CheckMessage",
    "raise_for_errors",
    "register_check",
    "run_checks",
]

CHECK_IDS: dict[str, str] = {
    "core.E001": (
        "A battery that signs sessions, CSRF tokens and links (``carboy.auth``) runs with "
        "``debug`` off and no ``secret_key``, so the app refuses to start. Set "
        "``CARBOY_SECRET_KEY`` to a long random value kept out of the code (``carboy new`` "
        "writes one into ``.env``), or turn ``CARBOY_DEBUG`` on for development."
    ),
    "core.W001": (
        "``allowed_hosts`` contains ``*``, so requests for any host name are served, and links "
        "built from the Host header (password-reset mails) can point at a site an attacker "
        "chose. List the host names the site serves; keep ``*`` for development."
    ),
    "security.E001": (
        "``debug`` is on in a deployment: error pages show tracebacks, source code and local "
        "variables to anyone. Set ``CARBOY_DEBUG=0``."
    ),
    "security.E002": (
        "``secret_key`` is not set, so sessions, CSRF tokens and signed cookies cannot be "
        "signed. Set ``CARBOY_SECRET_KEY`` to a long random value, such as the output of "
        "``python -c 'import secrets; print(secrets.token_urlsafe(50))'``."
    ),
    "security.E003": (
        "``secret_key`` is weak: shorter than 50 characters, made of fewer than 5 different "
        "characters, or looking like a placeholder, so whoever guesses it can forge sessions, "
        "CSRF tokens and signed cookies. Set ``CARBOY_SECRET_KEY`` to a new random value of at "
        "least 50 characters, kept out of the code."
    ),
    "security.E004": (
        "``allowed_hosts`` is empty, so only localhost names are served and requests for the "
        "site's own domain get 400. Set ``CARBOY_ALLOWED_HOSTS`` to the site's host names, "
        'such as ``["example.com"]``.'
    ),
    "security.W001": (
        "``allowed_hosts`` contains ``*`` in a deployment, so any Host header is believed and "
        "links built from it can point elsewhere. List the site's host names instead."
    ),
    "security.W002": (
        "``https_redirect`` is off, so pages are also served over plain HTTP, where they can "
        "be read and changed on the way. Set ``CARBOY_HTTPS_REDIRECT=1`` once the site has "
        "HTTPS, unless a proxy in front already redirects."
    ),
    "security.W003": (
        "``hsts_seconds`` is 0, so browsers are not told to use HTTPS only. Set it to a year "
        "(31536000) once the whole site works over HTTPS, after trying a small value first."
    ),
    "security.W004": (
        "``hsts_include_subdomains`` is off, so a subdomain served over plain HTTP can be used "
        "to set cookies for the site. Turn it on once every subdomain has HTTPS."
    ),
    "security.W005": (
        "The session cookie may travel over plain HTTP: ``session_cookie_secure`` is off, or "
        "unset while ``https_redirect`` is off. Set ``CARBOY_SESSION_COOKIE_SECURE=1``, or "
        "turn on ``https_redirect``."
    ),
    "security.W006": (
        "``session_cookie_samesite`` is ``none``, so browsers send the session cookie with "
        "requests other sites start. Use ``lax`` (the default) unless other sites must embed "
        "this one with the visitor signed in."
    ),
    "security.W007": (
        "``csrf_enabled`` is off, so forms that other sites post act with the visitor's "
        "session. Turn it back on, and exempt only the routes that must take such posts."
    ),
    "security.W008": (
        "Neither ``x_frame_options`` nor a CSP ``frame-ancestors`` directive is sent, so other "
        "sites can frame the pages (clickjacking). Keep ``x_frame_options=DENY``, or put "
        "``frame-ancestors 'none'`` in the policy."
    ),
    "security.W009": (
        "``content_type_nosniff`` is off, so browsers may guess a response's type and run an "
        "uploaded file as a page or script. Turn it back on."
    ),
    "security.W010": (
        "``referrer_policy`` is unset, so each browser's default decides how much of a page's "
        "URL other sites receive. Use ``same-origin`` (the default) or "
        "``strict-origin-when-cross-origin``."
    ),
    "security.W011": (
        "``content_security_policy`` is unset, so no Content-Security-Policy keeps injected "
        "scripts from running on the app's pages. Set ``CARBOY_CONTENT_SECURITY_POLICY``, "
        "starting from ``default-src 'self'``; ``{nonce}`` in it becomes each request's nonce, "
        "for the inline scripts that must run."
    ),
    "security.W012": (
        "``cross_origin_opener_policy`` is unset, so a window of another site that opens the "
        "pages keeps a handle on them. Use ``same-origin`` (the default)."
    ),
    "security.W013": (
        "A key in ``secret_key_fallbacks`` is weak, so what it signed can be forged while it "
        "is listed. Remove it once the sessions it signed have expired."
    ),
}
"""What each check id of this module means and how to fix it: the checks reference."""


logger = logging.getLogger("carboy.checks")

Level = Literal["error", "warning"]


@dataclass(frozen=True)
class CheckMessage:
    """One problem a check found.

    Attributes:
        id: A stable id, ``<area>.<E|W><number>``, such as ``security.E001``.
        level: ``"error"``: the app must not run so; ``"warning"``: it can,
            but probably should not.
        message: What is wrong and why it matters. It names settings, never
            their values.
        hint: How to fix it, or ``None``.
    """

    id: str
    level: Level
    message: str
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        """Whether the problem is an error, which stops the app from starting."""
        return self.level == "error"

    def __str__(self) -> str:
        if self.hint is None:
            return f"{self.id}: {self.message}"
        return f"{self.id}: {self.message} HINT: {self.hint}"


CheckFunction = Callable[["Carboy"], "Iterable[CheckMessage] | None"]
"""A check: takes the app, returns the problems it found (empty, or ``None``, if none)."""

# Registered checks live on the app, in this attribute, until the app has a
# place of its own for them.
_REGISTRY = "_checks"


def register_check(app: Carboy, function: CheckFunction, *, deploy: bool = False) -> CheckFunction:
    """Add a check to the app, run at startup and by ``carboy check``.

    Extensions register their checks in ``init_app``.

    Args:
        app: The app to check.
        function: Called with the app; returns the problems it finds.
        deploy: Run it only for ``carboy check --deploy``: a check of a
            production setup that would fail in development.

    Returns:
        ``function``, unchanged.

    Raises:
        ImproperlyConfigured: when ``function`` cannot be called, or the app
            has already started.
    """
    name = getattr(function, "__qualname__", repr(function))
    if not callable(function):
        raise ImproperlyConfigured(
            f"The check {function!r} is not callable. A check is a function that takes the "
            "app and returns a list of CheckMessage."
        )
    app._check_open(f"register the check {name}")
    _registered(app).append((function, deploy))
    return function


def run_checks(app: Carboy, *, deploy: bool = False) -> list[CheckMessage]:
    """Run carboy's own checks and the app's registered ones, and return what they find.

    Args:
        app: The app to check.
        deploy: Add the checks of a production setup (``carboy check
            --deploy``) to the ones every start runs.

    Returns:
        The problems found, carboy's own first, then the registered checks'
        in the order they were registered.

    Raises:
        ImproperlyConfigured: when a registered check returns something other
            than CheckMessage objects.
    """
    settings = app.settings
    messages = _core_checks(settings, deploy=deploy)
    if deploy:
        messages += _deploy_checks(settings)
    for function, is_deploy_check in _registered(app):
        if is_deploy_check and not deploy:
            continue
        found = list(function(app) or ())
        for message in found:
            if not isinstance(message, CheckMessage):
                name = getattr(function, "__qualname__", repr(function))
                raise ImproperlyConfigured(
                    f"The check {name} returned {message!r}, which is not a CheckMessage. "
                    "A check returns a list of CheckMessage, empty when all is well."
                )
        messages += found
    return messages


def raise_for_errors(messages: Sequence[CheckMessage]) -> None:
    """Raise if any message is an error, listing all errors; log the warnings.

    Each warning goes to the ``carboy.checks`` logger, at the WARNING level.

    Raises:
        ImproperlyConfigured: when at least one message is an error; its
            message lists every error, one per line.

    Example::

        raise_for_errors(run_checks(app))
    """
    for message in messages:
        if not message.is_error:
            logger.warning("%s", message)
    errors = [message for message in messages if message.is_error]
    if errors:
        count = "1 problem" if len(errors) == 1 else f"{len(errors)} problems"
        listed = "\n".join(f"  {error}" for error in errors)
        raise ImproperlyConfigured(f"carboy found {count} at startup:\n{listed}")


def secret_key_check(battery: str) -> CheckFunction:
    """Make a check that fails a start with debug off and no secret key.

    A battery that signs sessions, CSRF tokens or links registers it: with
    no key, its first request would fail, so the app refuses to start
    instead and says how to make one. In debug mode a key of the process is
    made at startup, and the check passes.

    Args:
        battery: The battery's name, said in the message.
    """

    def secret_key_is_set(app: Carboy) -> list[CheckMessage]:
        settings = app.settings
        # An empty CARBOY_SECRET_KEY= is no key either.
        if settings.debug or (settings.secret_key and settings.secret_key.get_secret_value()):
            return []
        env = _env_names(settings)
        return [
            CheckMessage(
                "core.E001",
                "error",
                f"secret_key is not set and debug is off, but the {battery} battery signs "
                "sessions, CSRF tokens and links with it: every sign-in would fail.",
                f"Set {env('secret_key')} to a long random value kept out of the code, such "
                "as the output of: python -c 'import secrets; print(secrets.token_urlsafe(50))' "
                f"(a project made by carboy new has one in .env), or set {env('debug')}=1 "
                "in development.",
            )
        ]

    return secret_key_is_set


def _registered(app: Carboy) -> list[tuple[CheckFunction, bool]]:
    registry: list[tuple[CheckFunction, bool]] | None = getattr(app, _REGISTRY, None)
    if registry is None:
        registry = []
        setattr(app, _REGISTRY, registry)
    return registry


# carboy's own checks ----------------------------------------------------------


def _core_checks(settings: Settings, *, deploy: bool) -> list[CheckMessage]:
    messages = []
    # A deploy run says the same as security.W001, once.
    if "*" in settings.allowed_hosts and not deploy:
        messages.append(_any_host("core.W001", _env_names(settings)))
    return messages


def _any_host(check_id: str, env: Callable[[str], str]) -> CheckMessage:
    return CheckMessage(
        check_id,
        "warning",
        "allowed_hosts contains '*', so requests for any host are served: links built from "
        "the Host header, such as password-reset links, can point at a site an attacker "
        "chose.",
        "List the host names the site serves instead, such as "
        f"{env('allowed_hosts')}='[\"example.com\"]'; keep '*' for development.",
    )


def _deploy_checks(settings: Settings) -> list[CheckMessage]:
    """Audit the settings of a production site."""
    env = _env_names(settings)
    messages: list[CheckMessage] = []

    def error(check_id: str, message: str, hint: str) -> None:
        messages.append(CheckMessage(check_id, "error", message, hint))

    def warning(check_id: str, message: str, hint: str) -> None:
        messages.append(CheckMessage(check_id, "warning", message, hint))

    new_key = (
        f"Set {env('secret_key')} to a new random value of at least 50 characters, kept out "
        "of the code, such as the output of: "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))'"
    )

    if settings.debug:
        error(
            "security.E001",
            "debug is on, so error pages show tracebacks, source code and local variables "
            "to anyone who causes an error.",
            f"Set {env('debug')}=0 in production.",
        )
    key = settings.secret_key.get_secret_value() if settings.secret_key is not None else ""
    if not key:
        error(
            "security.E002",
            "secret_key is not set, so sessions, CSRF tokens and signed cookies cannot be signed.",
            new_key,
        )
    elif weaknesses := _weaknesses(key):
        error(
            "security.E003",
            f"secret_key is weak ({'; '.join(weaknesses)}): whoever guesses it can forge "
            "sessions, CSRF tokens and signed cookies.",
            new_key,
        )
    if not settings.allowed_hosts:
        error(
            "security.E004",
            "allowed_hosts is empty, so only localhost names are served: requests for the "
            "site's own domain are refused with 400 Bad Request.",
            f"Set {env('allowed_hosts')} to the host names the site serves, such as "
            '\'["example.com", "www.example.com"]\'.',
        )
    if "*" in settings.allowed_hosts:
        messages.append(_any_host("security.W001", env))
    if not settings.https_redirect:
        warning(
            "security.W002",
            "https_redirect is off, so pages are served over plain HTTP too, where they can "
            "be read and changed on the way.",
            f"Set {env('https_redirect')}=1 once the site is served over HTTPS. If a proxy in "
            "front of the app already redirects, this warning can be ignored.",
        )
    if settings.hsts_seconds <= 0:
        warning(
            "security.W003",
            "hsts_seconds is 0, so browsers are not told to use HTTPS only: a visit that "
            "starts over plain HTTP can be intercepted.",
            f"Set {env('hsts_seconds')}=31536000 (a year) once the whole site works over "
            "HTTPS; browsers remember it, so try a small value first.",
        )
    elif not settings.hsts_include_subdomains:
        warning(
            "security.W004",
            "hsts_include_subdomains is off, so HSTS does not cover subdomains: one served "
            "over plain HTTP can be used to set cookies for this site.",
            f"Set {env('hsts_include_subdomains')}=1 once every subdomain is served over HTTPS.",
        )
    if settings.session_cookie_secure is False:
        warning(
            "security.W005",
            "session_cookie_secure is off, so the session cookie is sent over plain HTTP "
            "too, where it can be stolen.",
            f"Set {env('session_cookie_secure')}=1.",
        )
    elif settings.session_cookie_secure is None and not settings.https_redirect:
        warning(
            "security.W005",
            "session_cookie_secure is unset and https_redirect is off, so the session cookie "
            "is marked Secure only on requests that reach the app over HTTPS: a request over "
            "plain HTTP, or through a proxy that does not pass the scheme on, gets it "
            "unprotected.",
            f"Set {env('session_cookie_secure')}=1, or {env('https_redirect')}=1.",
        )
    if settings.session_cookie_samesite == "none":
        warning(
            "security.W006",
            "session_cookie_samesite is 'none', so browsers send the session cookie with "
            "requests that other sites start.",
            f"Set {env('session_cookie_samesite')}=lax (the default), unless other sites must "
            "embed this one with the visitor logged in.",
        )
    if not settings.csrf_enabled:
        warning(
            "security.W007",
            "csrf_enabled is off, so forms that other sites post act with the visitor's "
            "session (cross-site request forgery).",
            f"Set {env('csrf_enabled')}=1 (the default), and exempt only the routes that "
            "must accept posts from other sites.",
        )
    if not settings.x_frame_options and not _sends_frame_ancestors(settings):
        warning(
            "security.W008",
            "x_frame_options is unset and no CSP frame-ancestors directive is sent, so other "
            "sites can show these pages in a frame and trick visitors into clicking on them "
            "(clickjacking).",
            f"Set {env('x_frame_options')}=DENY (the default), or put frame-ancestors 'none' "
            "in the content security policy.",
        )
    if not settings.content_type_nosniff:
        warning(
            "security.W009",
            "content_type_nosniff is off, so browsers may guess a response's type, and run "
            "an uploaded file as a page or a script.",
            f"Set {env('content_type_nosniff')}=1 (the default).",
        )
    if not settings.referrer_policy:
        warning(
            "security.W010",
            "referrer_policy is unset, so each browser's own default decides how much of a "
            "page's URL, tokens in its query included, other sites receive in the Referer "
            "header.",
            f"Set {env('referrer_policy')}=same-origin (the default), or "
            "strict-origin-when-cross-origin.",
        )
    if not settings.content_security_policy:
        warning(
            "security.W011",
            "content_security_policy is unset: a Content-Security-Policy is recommended, as "
            "it keeps injected scripts from running.",
            f"Set {env('content_security_policy')}, starting from \"default-src 'self'\"; "
            "{nonce} in it becomes each request's nonce, for the inline scripts that must run.",
        )
    if not settings.cross_origin_opener_policy:
        warning(
            "security.W012",
            "cross_origin_opener_policy is unset, so a window of another site that opens "
            "these pages keeps a handle on them, which cross-window attacks (XS-Leaks) use.",
            f"Set {env('cross_origin_opener_policy')}=same-origin (the default).",
        )
    for index, fallback in enumerate(settings.secret_key_fallbacks):
        if weaknesses := _weaknesses(fallback.get_secret_value()):
            warning(
                "security.W013",
                f"secret_key_fallbacks[{index}] is weak ({'; '.join(weaknesses)}): what "
                "it signed can be forged for as long as it is listed.",
                f"Remove it from {env('secret_key_fallbacks')} once the sessions it signed "
                "have expired.",
            )
    return messages


_MIN_KEY_LENGTH = 50
_MIN_DISTINCT_CHARACTERS = 5
_PLACEHOLDERS = (
    "changeme",
    "change-me",
    "change_me",
    "replaceme",
    "replace-me",
    "replace_me",
    "your-secret-key",
    "your_secret_key",
    "secret-key-here",
    "insecure",
)


def _weaknesses(key: str) -> list[str]:
    """Say what makes a key weak, without ever quoting it."""
    weaknesses = []
    if len(key) < _MIN_KEY_LENGTH:
        weaknesses.append(f"shorter than {_MIN_KEY_LENGTH} characters")
    if len(set(key)) < _MIN_DISTINCT_CHARACTERS:
        weaknesses.append(f"fewer than {_MIN_DISTINCT_CHARACTERS} different characters")
    lowered = key.lower()
    if any(placeholder in lowered for placeholder in _PLACEHOLDERS):
        weaknesses.append("looks like a placeholder")
    return weaknesses


def _sends_frame_ancestors(settings: Settings) -> bool:
    # frame_ancestors is sent on its own only when no full policy is set.
    if settings.content_security_policy:
        return "frame-ancestors" in settings.content_security_policy.lower()
    return bool(settings.frame_ancestors)


def _env_names(settings: Settings) -> Callable[[str], str]:
    """Name the environment variable of each setting, with the settings' own prefix."""
    prefix = str(settings.model_config.get("env_prefix") or "")

    def env(name: str) -> str:
        return (prefix + name).upper()

    return env
