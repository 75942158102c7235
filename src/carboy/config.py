"""Typed settings, read from ``CARBOY_*`` environment variables and ``.env``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """The settings of a carboy app.

    Each field is read from the environment variable of its name with the
    ``CARBOY_`` prefix (``CARBOY_DEBUG=1``), or from a ``.env`` file in the
    working directory. Subclass it to add your own fields. The defaults are
    the safe ones; ``carboy check --deploy`` says what a production site
    must still set.

    Example::

        class MySettings(Settings):
            feature_flag: bool = False

        app = Carboy(settings=MySettings())
    """

    model_config = SettingsConfigDict(
        env_prefix="CARBOY_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        # Each field's docstring is its description, read by the settings reference.
        use_attribute_docstrings=True,
    )

    debug: bool = False
    """Show tracebacks to the client and reload on code changes. Never in production."""

    secret_key: SecretStr | None = None
    """The key that signs cookies and tokens. Keep it secret, and out of the code."""

    secret_key_fallbacks: list[SecretStr] = Field(default_factory=list)
    """Former secret keys: what they signed still verifies, nothing new is signed with them."""

    allowed_hosts: list[str] = Field(default_factory=list)
    """The host names this site serves, checked against the Host header.

    Empty: only localhost names (and the test client's ``testserver``).
    Entries may be ``example.com``, ``*.example.com`` or ``.example.com``.
    """

    trusted_proxies: list[str] = Field(default_factory=list)
    """The reverse proxies whose ``X-Forwarded-*`` headers are believed: addresses or networks.

    Empty (the default): no client's forwarded headers are read, so the
    client address, scheme and host are the connection's own. Behind a
    proxy, list its address (``["10.0.0.5"]``, ``["10.0.0.0/8"]``): a request
    whose peer is one of them takes its client address from
    ``X-Forwarded-For`` (the nearest address that is not a trusted proxy),
    its scheme from ``X-Forwarded-Proto`` and its host from
    ``X-Forwarded-Host``. The client address is what throttles count; the
    scheme decides ``url_for`` and the cookies' Secure flag. ``"*"`` trusts
    every peer: only when nothing but the proxy can reach the server.
    """

    max_header_count: int = 100
    """The most header lines a request may have; more gets 431."""
    max_header_size: int = 8190
    """The most bytes one header line (name and value) may have; more gets 431."""
    max_headers_total: int = 32768
    """The most bytes all the header lines of a request may have together; more gets 431."""

    # Database (carboy.db) ---------------------------------------------
    database_url: SecretStr | None = None
    """The database, as a URL: ``postgresql://user:password@host/name``.

    ``None``: a SQLite file, ``db.sqlite3``, in the working folder. Secret,
    because it usually holds a password.
    """
    database_echo: bool = False
    """Log every SQL statement (at INFO, logger ``sqlalchemy.engine``)."""
    database_raise_on_lazy_load: bool = False
    """Raise on a lazy load that would run SQL, to catch N+1 queries in tests and development."""
    database_connect_timeout: float = Field(default=5.0, gt=0)
    """Seconds to wait for a new connection to the database, at startup and while serving.

    A database that does not answer in time gets its requests a 503.
    PostgreSQL's psycopg counts whole seconds, at least 2.
    """
    database_pool_timeout: float = Field(default=10.0, gt=0)
    """Seconds a request waits for a free pooled connection before it gets a 503."""
    database_statement_timeout: float = Field(default=15.0, ge=0)
    """Seconds one SQL statement may run before the database cancels it; 0: no limit.

    A cancelled statement's request gets a 503. The server enforces it
    (PostgreSQL's ``statement_timeout``, MariaDB's ``max_statement_time``,
    MySQL's ``max_execution_time`` for SELECTs, SQLite's busy timeout), and
    the asyncpg, asyncmy and PyMySQL drivers stop waiting one second later,
    for a database whose network went silent. Migrations run without it.
    """

    # Rate limits (carboy.ratelimit) -------------------------------------
    ratelimit_url: SecretStr | None = None
    """Where rate limit counters live: ``memory://`` or ``redis://host:6379/0``.

    ``None`` or ``memory://``: in this process, so each worker counts on its
    own. ``redis://`` (``rediss://`` for TLS): shared by every process that
    points at the same Redis. Read by the ``RateLimits()`` battery. Secret,
    because a Redis URL may hold a password.
    """
    ratelimit_key_prefix: str = "carboy:ratelimit:"
    """What every Redis key of the rate limits starts with; give two sites sharing a Redis two."""

    # Sessions -----------------------------------------------------------
    session_cookie_name: str = "session"
    """The name of the cookie that holds the session (signed, or its id with a server store)."""
    session_max_age: int = 14 * 24 * 3600
    """Seconds a session lasts after its last change."""
    session_cookie_secure: bool | None = None
    """Send the session cookie over HTTPS only; ``None``: when the request is HTTPS."""
    session_cookie_samesite: Literal["lax", "strict", "none"] = "lax"
    """The session cookie's SameSite: ``lax`` keeps it off other sites' form posts."""
    session_cookie_domain: str | None = None
    """The session cookie's Domain; ``None`` keeps it to the host that set it."""

    # CSRF ---------------------------------------------------------------
    csrf_enabled: bool = True
    """Check a CSRF token and the origin on every unsafe request that carries cookies."""
    csrf_field_name: str = "csrf_token"
    """The form field that carries the CSRF token."""
    csrf_header_name: str = "X-CSRF-Token"
    """The request header that carries the CSRF token, for scripts that post JSON."""
    csrf_trusted_origins: list[str] = Field(default_factory=list)
    """Other origins whose HTTPS form posts are accepted, such as ``https://app.example.com``."""

    # Security headers ---------------------------------------------------
    x_frame_options: Literal["DENY", "SAMEORIGIN"] | None = "DENY"
    """The X-Frame-Options header of documents, for browsers that ignore CSP frame-ancestors."""
    content_type_nosniff: bool = True
    """Send ``X-Content-Type-Options: nosniff``: browsers trust the declared content type."""
    referrer_policy: str | None = "same-origin"
    """The Referrer-Policy header: by default other sites are not told which page linked them."""
    cross_origin_opener_policy: str | None = "same-origin"
    """The Cross-Origin-Opener-Policy of documents: a popup from another site gets no handle."""
    cross_origin_resource_policy: str | None = "same-origin"
    """Sent on every response: other sites cannot load them as images, scripts or frames.

    Set ``"cross-origin"`` for a site whose files other sites embed (a CDN
    origin, a public image host); CORS requests are not affected.
    """
    permissions_policy: str | None = (
        "camera=(), display-capture=(), geolocation=(), microphone=(), payment=(), usb=()"
    )
    """The browser features a page and its frames may use; by default none of the powerful ones.

    A site that asks for the camera or the location names itself:
    ``"camera=(self), geolocation=(self)"``.
    """
    x_permitted_cross_domain_policies: str | None = "none"
    """Tells PDF readers and other plugins to read no cross-domain policy file of this site."""
    frame_ancestors: str | None = "'none'"
    """The CSP ``frame-ancestors`` directive sent on its own when no full CSP is set."""
    content_security_policy: str | None = None
    """A full Content-Security-Policy; ``{nonce}`` in it becomes the request's nonce."""
    builtin_pages_content_security_policy: str | None = (
        "default-src 'self'; script-src 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'; "
        "img-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    )
    """The Content-Security-Policy of the pages carboy renders itself, whatever the app's is.

    The admin's and the sign-in pages, the docs page, the debug page and the
    HTML error pages get it; ``{nonce}`` becomes the request's nonce, which
    their ``<script>`` and ``<style>`` elements carry (an app that overrides
    one of their templates gives its own scripts ``nonce="{{ csp_nonce() }}"``).
    Change it to allow more on those pages, such as a ``report-to``
    directive; ``None`` gives them the app's policy, like any other page.
    """
    hsts_seconds: int = 31536000
    """HSTS max-age, sent on HTTPS responses; 0 turns HSTS off."""
    hsts_include_subdomains: bool = True
    """Add ``includeSubDomains`` to HSTS: every subdomain is HTTPS-only too."""
    hsts_preload: bool = False
    """Add ``preload`` to HSTS, once the domain is to be listed in the browsers' preload lists."""
    https_redirect: bool = False
    """Redirect plain HTTP to HTTPS (308). Turn on when the site is served over HTTPS."""

    # Templates and static files ----------------------------------------
    template_dirs: list[str] = Field(default_factory=lambda: ["templates"])
    """The app's template folders, first match wins; relative to the working folder."""
    static_url: str = "/static"
    """The URL path under which the static files of the app and its batteries are served."""
    static_dirs: list[str] = Field(default_factory=lambda: ["static"])
    """The app's static folders; relative to the working folder; missing ones are skipped."""
    static_root: str | None = None
    """Where ``carboy collectstatic`` writes the hashed files served in production."""

    # Mail (carboy.mail) -------------------------------------------------
    mail_backend: Literal["console", "smtp", "memory", "file"] = "console"
    """Where mail goes: ``console``, ``smtp``, ``memory`` or ``file``.

    ``console`` prints each message, for development; ``smtp`` hands it to
    ``smtp_host``; ``memory`` keeps it in the backend's ``outbox``, for tests;
    ``file`` writes it as an ``.eml`` file to ``mail_file_path``.
    """
    mail_from: str = "webmaster@localhost"
    """The sender of the messages that name none, such as ``Site <noreply@example.com>``."""
    smtp_host: str | None = None
    """The SMTP server's host name; required by the ``smtp`` backend."""
    smtp_port: int = 25
    """The SMTP server's port: 25, 587 (with ``smtp_use_tls``) or 465 (with ``smtp_use_ssl``)."""
    smtp_username: str | None = None
    """Log in to the SMTP server with this name; ``None``: no login."""
    smtp_password: SecretStr | None = None
    """The password of ``smtp_username``."""
    smtp_use_tls: bool = False
    """Upgrade the SMTP connection with STARTTLS before logging in or sending."""
    smtp_use_ssl: bool = False
    """Speak TLS from the start of the SMTP connection (implicit TLS, port 465)."""
    smtp_timeout: float = 10.0
    """Seconds to wait for the SMTP server at each step."""
    mail_file_path: str = "sent_mail"
    """The folder the ``file`` backend writes to; relative to the working folder."""
