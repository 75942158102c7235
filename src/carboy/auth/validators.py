"""Password validators: what makes a password too weak to accept.

Each validator is a callable that takes the password and the user (or
``None`` before the user exists) and returns a list of problems, empty for
a good password. ``validate_password`` runs a list of them and raises one
``PasswordRejected`` with every problem found. ``Auth(password_validators=
[...])`` sets the list; the default is ``DEFAULT_VALIDATORS``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from difflib import SequenceMatcher
from functools import cache
from importlib import resources
from typing import Any

from carboy.exceptions import CarboyError

__all__ = [
    "DEFAULT_VALIDATORS",
    "CommonPassword",
    "MinimumLength",
    "NotAllNumeric",
    "PasswordRejected",
    "PasswordValidator",
    "SimilarToUser",
    "validate_password",
]

PasswordValidator = Callable[[str, Any], list[str]]


class PasswordRejected(CarboyError, ValueError):
    """A password is too weak; ``problems`` lists why, one sentence each."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__(" ".join(problems))
        self.problems = list(problems)


class MinimumLength:
    """Refuse passwords shorter than ``length`` characters."""

    def __init__(self, length: int = 8) -> None:
        self.length = length

    def __call__(self, password: str, user: Any = None) -> list[str]:
        if len(password) >= self.length:
            return []
        return [f"This password is too short: it must have at least {self.length} characters."]


class CommonPassword:
    """Refuse passwords found on a list of the most common ones, whatever their case."""

    def __call__(self, password: str, user: Any = None) -> list[str]:
        if password.strip().lower() not in _common_passwords():
            return []
        return ["This password is one of the most common, which attackers try first."]


@cache
def _common_passwords() -> frozenset[str]:
    text = resources.files("carboy.auth").joinpath("common_passwords.txt").read_text("utf-8")
    return frozenset(line.strip() for line in text.splitlines() if line.strip())


class NotAllNumeric:
    """Refuse passwords made of digits only."""

    def __call__(self, password: str, user: Any = None) -> list[str]:
        if not password.isdigit():
            return []
        return ["This password is made of digits only."]


class SimilarToUser:
    """Refuse passwords too close to the user's e-mail address or username.

    Args:
        attributes: The user's attributes to compare with.
        max_similarity: The highest similarity allowed, from 0 to 1.
    """

    def __init__(
        self, attributes: Sequence[str] = ("email", "username"), max_similarity: float = 0.7
    ) -> None:
        self.attributes = tuple(attributes)
        self.max_similarity = max_similarity

    def __call__(self, password: str, user: Any = None) -> list[str]:
        if user is None:
            return []
        lowered = password.lower()
        for attribute in self.attributes:
            value = getattr(user, attribute, None)
            if not isinstance(value, str) or not value:
                continue
            # The whole value and its parts: "ada.lovelace@example.com" also
            # gives "ada", "lovelace", "example" and "com".
            for part in {value.lower(), *re.split(r"\W+", value.lower())}:
                if len(part) < 3:
                    continue
                ratio = SequenceMatcher(a=lowered, b=part).quick_ratio()
                if ratio >= self.max_similarity and (
                    SequenceMatcher(a=lowered, b=part).ratio() >= self.max_similarity
                ):
                    label = "e-mail address" if attribute == "email" else attribute
                    return [f"This password is too similar to your {label}."]
        return []


DEFAULT_VALIDATORS: tuple[PasswordValidator, ...] = (
    SimilarToUser(),
    MinimumLength(),
    CommonPassword(),
    NotAllNumeric(),
)


def validate_password(
    password: str, user: Any = None, validators: Sequence[PasswordValidator] = DEFAULT_VALIDATORS
) -> None:
    """Raise ``PasswordRejected`` with every problem ``validators`` find in ``password``."""
    problems = [problem for validator in validators for problem in validator(password, user)]
    if problems:
        raise PasswordRejected(problems)
