"""The forms of the sign-in pages: what each page asks for, declared once.

Each is a ``carboy.forms.Form``, drawn by the page templates with its CSRF
field and its errors beside the fields. The ``autocomplete`` attributes let
password managers tell a sign-in (``current-password``) from a new password
(``new-password``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, ClassVar

from pydantic import Field, SecretStr

from carboy.forms import EmailInput, Form, HiddenInput, PasswordInput

__all__ = [
    "EMAIL_PATTERN",
    "MAX_PASSWORD_LENGTH",
    "LoginForm",
    "LogoutForm",
    "PasswordChangeForm",
    "PasswordResetForm",
    "SetPasswordForm",
    "SignupForm",
]

MAX_PASSWORD_LENGTH = 4096
"""The longest password accepted: hashing a megabyte-long one would tie a worker up."""

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
"""Enough to catch a typo (one "@", no spaces, a dot in the domain); the e-mail proves the rest.

The pattern is ``^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$``.

:meta hide-value:
"""

_MESSAGES: Mapping[str, str] = {
    "string_too_long": "Enter at most {max_length} characters.",
    "too_long": "Enter at most {max_length} characters.",
    "string_pattern_mismatch": "Enter a valid email address, such as ada@example.com.",
}

Email = Annotated[str, EmailInput(autocomplete="email")]
CurrentPassword = Annotated[SecretStr, PasswordInput(autocomplete="current-password")]
NewPassword = Annotated[SecretStr, PasswordInput(autocomplete="new-password")]


class LoginForm(Form):
    """Sign in with an e-mail address and a password."""

    email: Email = Field(max_length=254, title="Email")
    password: CurrentPassword = Field(max_length=MAX_PASSWORD_LENGTH, title="Password")
    next: Annotated[str, HiddenInput()] = Field(default="", max_length=2000)
    """Where to go once signed in; checked again when the form comes back."""

    error_messages: ClassVar[Mapping[str, str]] = _MESSAGES


class LogoutForm(Form):
    """Sign out: a button and the CSRF field, nothing to fill in."""


class PasswordChangeForm(Form):
    """Change the password of the signed-in user, who proves it with the current one."""

    old_password: CurrentPassword = Field(max_length=MAX_PASSWORD_LENGTH, title="Current password")
    new_password: NewPassword = Field(max_length=MAX_PASSWORD_LENGTH, title="New password")
    new_password_again: NewPassword = Field(
        max_length=MAX_PASSWORD_LENGTH, title="New password, again"
    )

    error_messages: ClassVar[Mapping[str, str]] = _MESSAGES


class PasswordResetForm(Form):
    """Ask for a link that sets a new password."""

    email: Email = Field(
        max_length=254,
        pattern=EMAIL_PATTERN,
        title="Email",
        description="The address you sign in with.",
    )

    error_messages: ClassVar[Mapping[str, str]] = _MESSAGES


class SetPasswordForm(Form):
    """Choose a new password, from the link of a password-reset e-mail."""

    new_password: NewPassword = Field(max_length=MAX_PASSWORD_LENGTH, title="New password")
    new_password_again: NewPassword = Field(
        max_length=MAX_PASSWORD_LENGTH, title="New password, again"
    )

    error_messages: ClassVar[Mapping[str, str]] = _MESSAGES


class SignupForm(Form):
    """Open an account: an e-mail address, verified by a link, and a password."""

    email: Email = Field(max_length=254, pattern=EMAIL_PATTERN, title="Email")
    password: NewPassword = Field(max_length=MAX_PASSWORD_LENGTH, title="Password")
    password_again: NewPassword = Field(max_length=MAX_PASSWORD_LENGTH, title="Password, again")

    error_messages: ClassVar[Mapping[str, str]] = _MESSAGES
