"""The guestbook app: ``GET /`` lists the entries, ``/sign`` takes a new one.

A post that fails validation gets the page back with status 422, each error
next to its field and every value as typed; a valid one is stored, flashes a
thank-you and redirects to the list with 303 (Post/Redirect/Get), so that
reloading the list never sends the form twice. The pages use no JavaScript.

``create_app()`` makes a guestbook with its own, empty list of entries, as
each test wants; ``app`` is the one that ``carboy run`` serves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import Field, SecretStr, field_validator

from carboy import Carboy, RedirectResponse, Request, Response, Router
from carboy.config import Settings
from carboy.forms import Form, Textarea
from carboy.sessions import flash
from carboy.templating import render

TEMPLATES = Path(__file__).resolve().parent / "templates"

# DEVELOPMENT ONLY. A key written in the source signs nothing worth
# protecting: anyone who reads it can forge this guestbook's sessions. A
# deployed copy sets CARBOY_SECRET_KEY to a long random value, which is then
# used instead.
DEVELOPMENT_SECRET_KEY = "guestbook-development-only-never-deploy-this-key-4f1c9b"

# Enough to catch a typo, not a full RFC 5322 parser: one "@", no spaces,
# a dot in the domain.
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"


class SignForm(Form):
    """What a visitor writes in the guestbook."""

    name: str = Field(min_length=2, max_length=40, title="Your name")
    email: str = Field(
        pattern=EMAIL_PATTERN,
        max_length=254,
        title="Email",
        description="Never shown on the page.",
    )
    message: Annotated[str, Textarea(rows=5)] = Field(min_length=5, max_length=500, title="Message")
    accept_rules: bool = Field(title="I accept the house rules: be kind, no advertising")

    error_messages: ClassVar[dict[str, str]] = {
        "string_too_short": "Enter at least {min_length} characters.",
        "string_too_long": "Enter at most {max_length} characters.",
        "string_pattern_mismatch": "Enter a valid email address, such as ada@example.com.",
    }

    @field_validator("accept_rules")
    @classmethod
    def rules_must_be_accepted(cls, accepted: bool) -> bool:
        """Refuse the entry unless the box is checked."""
        if not accepted:
            raise ValueError("Accept the house rules to sign the guestbook.")
        return accepted


@dataclass(frozen=True)
class Entry:
    """One signed entry, as the list shows it; the email stays private."""

    name: str
    message: str


router = Router()


def entries_of(request: Request) -> list[Entry]:
    """Return the guestbook's entries, newest first."""
    entries: list[Entry] = request.app.state.entries
    return entries


@router.get("/", name="entries")
async def list_entries(request: Request) -> Response:
    """Show the entries and the messages flashed since the last page."""
    return render(request, "entries.html", {"entries": entries_of(request)})


@router.get("/sign", name="sign_form")
async def sign_form(request: Request) -> Response:
    """Show the empty form."""
    return render(request, "sign.html", {"form": SignForm.blank(request)})


@router.post("/sign", name="sign")
async def sign(request: Request) -> Response:
    """Store a valid entry and redirect to the list, or show the form again with its errors."""
    form = await SignForm.from_request(request)
    if not form.is_valid:
        # RFC 9110 15.5.21: 422, the request was understood but its content is wrong.
        return render(request, "sign.html", {"form": form}, status_code=422)
    signed = form.data
    entries_of(request).insert(0, Entry(name=signed.name, message=signed.message))
    flash(request, f"Thanks, {signed.name}! Your message is in the guestbook.", "success")
    # RFC 9110 15.4.4: 303 makes the browser GET the list, so a reload never re-posts.
    return RedirectResponse(request.app.url_path_for("entries"), status_code=303)


def create_app(settings: Settings | None = None) -> Carboy:
    """Return a guestbook with no entries.

    Args:
        settings: The app's settings; by default the secret key comes from
            ``CARBOY_SECRET_KEY``, or is the development-only key, and
            templates from this package's ``templates`` folder.
    """
    if settings is None:
        settings = Settings(
            secret_key=SecretStr(os.environ.get("CARBOY_SECRET_KEY") or DEVELOPMENT_SECRET_KEY),
            template_dirs=[str(TEMPLATES)],
        )
    app = Carboy(settings=settings)
    app.state.entries = []
    app.include_router(router)
    return app


app = create_app()
