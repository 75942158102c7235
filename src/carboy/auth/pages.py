"""The sign-in pages: log in and out, change or reset a password, sign up.

``Auth()`` serves them under its ``prefix`` (``/auth`` by default), as the
router ``auth``::

    GET  POST  /auth/login                    sign in; ?next= a page of this site
    GET  POST  /auth/logout                   a button, then sign out of every session
    GET  POST  /auth/password/change          signed-in users only
    GET  POST  /auth/password/reset           ask for a link by e-mail
    GET  POST  /auth/password/reset/{token}   choose a new password from the link
    GET  POST  /auth/signup                   with Auth(signup=True): a new, inactive user
    GET  POST  /auth/verify/{token}           the sign-up e-mail's link: activate the user

Every page is plain HTML that works without JavaScript, drawn from the
templates in ``carboy/auth/``, which an app overrides by having its own at
the same path (``templates/carboy/auth/base.html`` restyles every page).
Only a POST acts: GET and HEAD (a GET without the body) show the page,
whatever they carry. An API client signs in and out with JSON instead of a
form: ``POST /auth/login`` with ``{"email": ..., "password": ...}``, and
``POST /auth/logout`` with a JSON body, answered 204.

The pages give an attacker nothing to learn: a wrong password and an unknown
address get the same page, and so do a reset or a sign-up for an address
with an account and one without. Sign-in attempts are throttled per client
address and e-mail address, and per client address (``DEFAULT_THROTTLES``);
the links of e-mails are signed, expire after ``Auth(reset_max_age=...)``
seconds, and work once.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio.to_thread
from pydantic import BaseModel, Field, SecretStr, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from carboy.auth.authentication import (
    authenticate,
    login,
    logout,
    normalize_email,
    update_session_hash,
)
from carboy.auth.forms import (
    MAX_PASSWORD_LENGTH,
    LoginForm,
    LogoutForm,
    PasswordChangeForm,
    PasswordResetForm,
    SetPasswordForm,
    SignupForm,
)
from carboy.auth.guards import login_required
from carboy.auth.hashers import check_password, make_password
from carboy.auth.models import AbstractUser
from carboy.auth.tokens import link_token_matches, make_link_token, read_link_token
from carboy.auth.validators import PasswordRejected, validate_password
from carboy.csrf import CSRFError
from carboy.dependencies import Depends
from carboy.mail import mailer_of
from carboy.problems import error_response
from carboy.ratelimit import RateLimited, by_ip, hit, limiter_of, parse_rate
from carboy.requests import Request
from carboy.responses import JSONResponse, RedirectResponse, Response
from carboy.routing import Router
from carboy.sessions import flash
from carboy.templating import render

if TYPE_CHECKING:
    from collections.abc import Mapping

    from carboy.auth.extension import Auth
    from carboy.forms import BoundForm

__all__ = [
    "DEFAULT_THROTTLES",
    "LINK_INVALID",
    "LOGIN_FAILED",
    "NO_SESSION",
    "PASSWORDS_DIFFER",
    "RESET_PURPOSE",
    "VERIFY_PURPOSE",
    "WRONG_OLD_PASSWORD",
    "Throttles",
    "duration",
    "is_safe_next",
    "pages_router",
]

RESET_PURPOSE = "password-reset"
"""The purpose a password-reset link's token is signed for."""
VERIFY_PURPOSE = "verify-email"
"""The purpose a sign-up verification link's token is signed for."""

LOGIN_FAILED = (
    "The email address or the password is wrong. Check both and try again; the password "
    "is case-sensitive."
)
NO_SESSION = (
    "Sign-in refused: the form came without the session cookie that holds its CSRF token. "
    "Allow cookies for this site, reload the sign-in page and try again."
)
WRONG_OLD_PASSWORD = "This is not your current password. Type it again."
PASSWORDS_DIFFER = "The two passwords differ. Type the same password in both fields."
LINK_INVALID = (
    "This link does not work: it was already used, it has expired, or it was copied "
    "incompletely. Ask for a new one."
)

# RFC 9110 15.4.4: 303 makes the browser GET the next page, so that
# reloading it never sends the form again (Post/Redirect/Get).
SEE_OTHER = 303
# RFC 9110 15.5.21: the form was understood, and what it holds is wrong.
UNPROCESSABLE = 422
# RFC 9110 15.3.5: done, and nothing to send back (a JSON sign-out).
NO_CONTENT = 204


@dataclass(frozen=True)
class Throttles:
    """How often the pages may be used, as ``carboy.ratelimit`` rates such as ``"5/minute"``.

    The counts are ``carboy.ratelimit``'s, in the scopes ``auth.login``,
    ``auth.password_reset``, ``auth.signup`` and ``auth.password_change``:
    in memory, or shared through Redis with ``RateLimits()`` and the
    ``ratelimit_url`` setting.

    Attributes:
        login_per_account: Sign-in attempts from one client address for one
            e-mail address; a successful sign-in starts the count again.
        login_per_ip: Sign-in attempts from one client address, whatever the
            e-mail address.
        reset_per_email: Password-reset e-mails asked for one address.
        reset_per_ip: Password-reset requests from one client address.
        signup_per_ip: Sign-ups from one client address.
        password_change_per_user: Attempts of one user to change their
            password, each of which guesses the current one.
    """

    login_per_account: str = "5/minute"
    login_per_ip: str = "20/minute"
    reset_per_email: str = "5/hour"
    reset_per_ip: str = "20/hour"
    signup_per_ip: str = "10/hour"
    password_change_per_user: str = "5/minute"


DEFAULT_THROTTLES = Throttles()
"""The rates ``pages_router`` uses unless given others."""


class _Credentials(BaseModel):
    """A JSON sign-in: ``{"email": ..., "password": ...}``."""

    email: str = Field(max_length=254)
    password: SecretStr = Field(max_length=MAX_PASSWORD_LENGTH)


def is_safe_next(target: str | None) -> bool:
    """Whether ``target`` is a path of this site, safe to redirect to after sign-in.

    Only a relative path that starts with one ``/`` passes: ``//evil.example``
    and ``/\\evil.example`` name another host to a browser, and browsers
    drop tabs and newlines from URLs, so any control character or
    backslash fails too.
    """
    if not target or not target.startswith("/") or len(target) > 2000:
        return False
    if any(ord(character) < 0x20 or character in "\\\x7f" for character in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc and not target.startswith("//")


def pages_router(auth: Auth, *, throttles: Throttles | None = None) -> Router:
    """Return the router of the sign-in pages, named ``auth``, under ``auth.prefix``.

    ``Auth.init_app`` includes it. Include it yourself for other rates:
    with ``Auth(prefix=None)``, ``app.include_router(pages_router(auth,
    throttles=Throttles(...)), prefix="/auth")``; ``login_required`` then
    answers 401 rather than redirecting, as ``Auth.login_url`` is ``None``.

    Args:
        auth: The auth battery whose users, validators and link lifetime apply.
        throttles: The sign-in, reset and sign-up rates; ``DEFAULT_THROTTLES``
            by default.
    """
    pages = _Pages(auth, throttles or DEFAULT_THROTTLES)
    router = Router(auth.prefix or "", name="auth")
    both = ("GET", "POST")
    router.add_route("/login", pages.login, methods=both, name="login", include_in_schema=False)
    router.add_route("/logout", pages.logout, methods=both, name="logout", include_in_schema=False)
    router.add_route(
        "/password/change",
        pages.password_change,
        methods=both,
        name="password_change",
        dependencies=[Depends(login_required)],
        include_in_schema=False,
    )
    router.add_route(
        "/password/reset",
        pages.password_reset,
        methods=both,
        name="password_reset",
        include_in_schema=False,
    )
    router.add_route(
        "/password/reset/{token}",
        pages.password_reset_confirm,
        methods=both,
        name="password_reset_confirm",
        include_in_schema=False,
    )
    if auth.signup:
        router.add_route(
            "/signup", pages.signup, methods=both, name="signup", include_in_schema=False
        )
        router.add_route(
            "/verify/{token}", pages.verify, methods=both, name="verify", include_in_schema=False
        )
    return router


class _Pages:
    """The handlers of the pages, sharing the battery and the rates."""

    def __init__(self, auth: Auth, throttles: Throttles) -> None:
        # Read now, so that a mistyped rate stops the app at startup.
        for rate in astuple(throttles):
            parse_rate(rate)
        self.auth = auth
        self.throttles = throttles

    # Helpers ----------------------------------------------------------------

    def _render(
        self,
        request: Request,
        name: str,
        context: Mapping[str, Any] | None = None,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        variables = {"auth": self.auth, **(context or {})}
        return render(
            request, f"carboy/auth/{name}", variables, status_code=status_code, headers=headers
        )

    def _throttled(self, request: Request, exc: RateLimited) -> Response:
        return self._render(
            request, "throttled.html", {"detail": exc.detail}, exc.status_code, exc.headers
        )

    async def _find_user(self, session: AsyncSession, email: str) -> AbstractUser | None:
        model = self.auth.user_model
        statement = select(model).where(model.email == normalize_email(email))
        user: AbstractUser | None = (await session.scalars(statement)).first()
        return user

    async def _link_user(
        self, request: Request, session: AsyncSession, token: str, purpose: str
    ) -> AbstractUser | None:
        """Return the user a link token acts for, or ``None`` if it is forged, expired or used."""
        found = read_link_token(request.app.settings, token, purpose, self.auth.reset_max_age)
        if found is None:
            return None
        user_id, state = found
        user = await session.get(self.auth.user_model, user_id)
        if user is None or not link_token_matches(user, state):
            return None
        return user

    def _link_invalid(self, request: Request) -> Response:
        return self._render(request, "link_invalid.html", {"detail": LINK_INVALID}, 400)

    def _check_new_password(self, form: BoundForm[Any], data: Any, user: Any, field: str) -> None:
        """Add an error to ``form`` for two different passwords, and for each validator's.

        ``data`` holds the new password in ``field`` and its repetition in
        ``<field>_again``.
        """
        password = getattr(data, field).get_secret_value()
        if password != getattr(data, f"{field}_again").get_secret_value():
            form.add_error(f"{field}_again", PASSWORDS_DIFFER)
        try:
            validate_password(password, user, self.auth.password_validators)
        except PasswordRejected as exc:
            for problem in exc.problems:
                form.add_error(field, problem)

    async def _send(
        self, request: Request, to: str, subject: str, template: str, context: Mapping[str, Any]
    ) -> None:
        variables = {
            "auth": self.auth,
            "site": request.url.hostname or "this site",
            "lifetime": duration(self.auth.reset_max_age),
            **context,
        }
        await mailer_of(request.app).send_template(
            to, subject, f"carboy/auth/email/{template}", variables, request=request
        )

    # Signing in and out -----------------------------------------------------

    async def login(self, request: Request, session: AsyncSession) -> Response:
        """Show the sign-in form, or sign in with the one sent and go to ``next``."""
        if request.method != "POST":
            wanted = request.query_params.get("next")
            initial = {"next": wanted if is_safe_next(wanted) else ""}
            return self._render(
                request, "login.html", {"form": LoginForm.blank(request, initial=initial)}
            )
        if request.content_type == "application/json":
            return await self._login_json(request, session)
        _require_session(request)
        form = await LoginForm.from_request(request)
        if not form.is_valid:
            return self._render(request, "login.html", {"form": form}, UNPROCESSABLE)
        data = form.data
        try:
            await self._throttle_login(request, data.email)
        except RateLimited as exc:
            return self._throttled(request, exc)
        password = data.password.get_secret_value()
        user = await authenticate(request, session, data.email, password)
        if user is None:
            form.add_error(None, LOGIN_FAILED)
            return self._render(request, "login.html", {"form": form}, UNPROCESSABLE)
        await self._signed_in(request, user, data.email)
        target = data.next if is_safe_next(data.next) else self.auth.login_redirect
        return RedirectResponse(target, SEE_OTHER)

    async def _login_json(self, request: Request, session: AsyncSession) -> Response:
        """Sign an API client in with a JSON body; the answer sets the session cookie."""
        try:
            credentials = _Credentials.model_validate(await request.json())
        except ValidationError:
            return error_response(
                request.headers,
                UNPROCESSABLE,
                "Unprocessable Content",
                'Send a JSON object with "email" and "password" strings.',
            )
        # A RateLimited raised here becomes the core's 429 problem+json.
        await self._throttle_login(request, credentials.email)
        user = await authenticate(
            request, session, credentials.email, credentials.password.get_secret_value()
        )
        if user is None:
            return error_response(request.headers, 400, "Bad Request", LOGIN_FAILED)
        await self._signed_in(request, user, credentials.email)
        return JSONResponse({"id": user.id, "email": user.email})

    async def _throttle_login(self, request: Request, email: str) -> None:
        await hit(request, "auth.login", self.throttles.login_per_ip, by_ip(request))
        await hit(request, "auth.login", self.throttles.login_per_account, _account(request, email))

    async def _signed_in(self, request: Request, user: AbstractUser, email: str) -> None:
        """Sign ``user`` in; the account's failed attempts from this address are forgotten."""
        login(request, user)
        await limiter_of(request.app).reset(
            "auth.login", _account(request, email), self.throttles.login_per_account
        )

    async def logout(self, request: Request, session: AsyncSession) -> Response:
        """Ask to confirm, then sign out of every session and go to the sign-in page.

        A JSON request (as a JSON sign-in is) gets 204 instead of the redirect.
        """
        if request.method != "POST":
            return self._render(request, "logout.html", {"form": LogoutForm.blank(request)})
        await logout(request, session)
        if request.content_type == "application/json":
            return Response(status_code=NO_CONTENT)
        flash(request, "You are signed out.", "success")
        return RedirectResponse(request.app.url_path_for("auth:login"), SEE_OTHER)

    # Passwords ---------------------------------------------------------------

    async def password_change(self, request: Request) -> Response:
        """Change the signed-in user's password; this session stays, the others end."""
        user: AbstractUser = request.user
        if request.method != "POST":
            return self._render(
                request, "password_change.html", {"form": PasswordChangeForm.blank(request)}
            )
        form = await PasswordChangeForm.from_request(request)
        if not form.is_valid:
            return self._render(request, "password_change.html", {"form": form}, UNPROCESSABLE)
        data = form.data
        try:
            await hit(
                request,
                "auth.password_change",
                self.throttles.password_change_per_user,
                str(user.id),
            )
        except RateLimited as exc:
            return self._throttled(request, exc)
        old = data.old_password.get_secret_value()
        if not await anyio.to_thread.run_sync(check_password, old, user.password):
            form.add_error("old_password", WRONG_OLD_PASSWORD)
        self._check_new_password(form, data, user, "new_password")
        if not form.is_valid:
            return self._render(request, "password_change.html", {"form": form}, UNPROCESSABLE)
        new = data.new_password.get_secret_value()
        user.password = await anyio.to_thread.run_sync(make_password, new)
        user.end_sessions()
        update_session_hash(request, user)
        flash(
            request,
            "Your password is changed. Every other browser signed in as you is now signed out.",
            "success",
        )
        return RedirectResponse(request.app.url_path_for("auth:password_change"), SEE_OTHER)

    async def password_reset(self, request: Request, session: AsyncSession) -> Response:
        """Ask for a reset link; answer the same whether the address has an account or not."""
        if request.method != "POST":
            return self._render(
                request, "password_reset.html", {"form": PasswordResetForm.blank(request)}
            )
        form = await PasswordResetForm.from_request(request)
        if not form.is_valid:
            return self._render(request, "password_reset.html", {"form": form}, UNPROCESSABLE)
        email = normalize_email(form.data.email)
        try:
            await hit(request, "auth.password_reset", self.throttles.reset_per_ip, by_ip(request))
            await hit(
                request,
                "auth.password_reset",
                self.throttles.reset_per_email,
                f"email:{email.lower()}",
            )
        except RateLimited as exc:
            return self._throttled(request, exc)
        user = await self._find_user(session, email)
        if user is not None and user.is_active and user.has_usable_password():
            token = make_link_token(request.app.settings, user, RESET_PURPOSE)
            link = request.url_for("auth:password_reset_confirm", token=token)
            await self._send(
                request,
                user.email,
                "Reset your password",
                "password_reset",
                {"user": user, "link": str(link)},
            )
        return self._render(
            request,
            "password_reset_sent.html",
            {"email": email, "lifetime": duration(self.auth.reset_max_age)},
        )

    async def password_reset_confirm(
        self, request: Request, session: AsyncSession, token: str
    ) -> Response:
        """Set a new password from a reset link, which then stops working."""
        user = await self._link_user(request, session, token, RESET_PURPOSE)
        if user is None or not user.is_active:
            return self._link_invalid(request)
        if request.method != "POST":
            return self._render(
                request, "password_reset_confirm.html", {"form": SetPasswordForm.blank(request)}
            )
        form = await SetPasswordForm.from_request(request)
        if form.is_valid:
            self._check_new_password(form, form.data, user, "new_password")
        if not form.is_valid:
            return self._render(
                request, "password_reset_confirm.html", {"form": form}, UNPROCESSABLE
            )
        new = form.data.new_password.get_secret_value()
        # A new hash: this link, and every session signed in as the user, end here.
        user.password = await anyio.to_thread.run_sync(make_password, new)
        user.end_sessions()
        flash(request, "Your new password is set. Sign in with it.", "success")
        return RedirectResponse(request.app.url_path_for("auth:login"), SEE_OTHER)

    # Signing up ---------------------------------------------------------------

    async def signup(self, request: Request, session: AsyncSession) -> Response:
        """Open an inactive account and send its verification link.

        An address that has an account gets the same page, and an e-mail
        saying so instead of a link, so that the page tells nobody which
        addresses have accounts.
        """
        if request.method != "POST":
            return self._render(request, "signup.html", {"form": SignupForm.blank(request)})
        form = await SignupForm.from_request(request)
        if form.is_valid:
            # Validated against the address alone, so that an existing
            # account changes nothing the page says.
            newcomer = SimpleNamespace(email=normalize_email(form.data.email), username=None)
            self._check_new_password(form, form.data, newcomer, "password")
        if not form.is_valid:
            return self._render(request, "signup.html", {"form": form}, UNPROCESSABLE)
        email = normalize_email(form.data.email)
        try:
            await hit(request, "auth.signup", self.throttles.signup_per_ip, by_ip(request))
        except RateLimited as exc:
            return self._throttled(request, exc)
        # Hashed either way, so that both answers take as long.
        password = form.data.password.get_secret_value()
        hashed = await anyio.to_thread.run_sync(make_password, password)
        existing = await self._find_user(session, email)
        if existing is None:
            user = self.auth.user_model(email=email, password=hashed, is_active=False)
            try:
                async with session.begin_nested():
                    session.add(user)
            except IntegrityError:
                # The same address signed up a moment ago, in another request.
                existing = await self._find_user(session, email)
            else:
                token = make_link_token(request.app.settings, user, VERIFY_PURPOSE)
                link = request.url_for("auth:verify", token=token)
                await self._send(
                    request,
                    user.email,
                    "Confirm your email address",
                    "verify_email",
                    {"user": user, "link": str(link)},
                )
        if existing is not None:
            await self._send(
                request,
                existing.email,
                "You already have an account",
                "account_exists",
                {
                    "user": existing,
                    "login_link": str(request.url_for("auth:login")),
                    "reset_link": str(request.url_for("auth:password_reset")),
                },
            )
        return self._render(request, "signup_sent.html", {"email": email})

    async def verify(self, request: Request, session: AsyncSession, token: str) -> Response:
        """Activate the account of a sign-up link, once the user presses the button.

        The link only shows the button: a mail scanner that follows links
        must not activate an account that someone else may have opened
        with this address.
        """
        user = await self._link_user(request, session, token, VERIFY_PURPOSE)
        if user is None or user.is_active:
            return self._link_invalid(request)
        if request.method != "POST":
            return self._render(
                request, "verify.html", {"form": LogoutForm.blank(request), "email": user.email}
            )
        user.is_active = True
        flash(request, "Your email address is confirmed. Sign in to start.", "success")
        return RedirectResponse(request.app.url_path_for("auth:login"), SEE_OTHER)


def _require_session(request: Request) -> None:
    """Refuse a sign-in form that comes without cookies, and so without a CSRF check.

    The core lets requests without cookies through, as nothing rides on
    them; a sign-in does (login CSRF): another site's form would sign the
    visitor in to an account of its choosing, and watch what they do there.

    Raises:
        CSRFError: 403, when CSRF protection is on and the form has no cookie.
    """
    if request.app.settings.csrf_enabled and "cookie" not in request.headers:
        raise CSRFError(NO_SESSION)


def _account(request: Request, email: str) -> str:
    """Return the key of sign-in attempts from this client for this address.

    The limiter stores it hashed: it holds an e-mail address.
    """
    return f"{by_ip(request)}:{normalize_email(email)}"


def duration(seconds: int) -> str:
    """Return ``seconds`` as words: "24 hours", "30 minutes", "3 days"."""
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size and seconds % size == 0 and not (unit == "day" and seconds < 2 * size):
            count = seconds // size
            return f"{count} {unit}" + ("s" if count != 1 else "")
    return f"{seconds} second" + ("s" if seconds != 1 else "")
