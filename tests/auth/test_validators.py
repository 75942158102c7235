from __future__ import annotations

from types import SimpleNamespace

import pytest

from carboy.auth import Auth
from carboy.auth.validators import (
    DEFAULT_VALIDATORS,
    CommonPassword,
    MinimumLength,
    NotAllNumeric,
    PasswordRejected,
    SimilarToUser,
    validate_password,
)
from carboy.exceptions import CarboyError

TOO_SHORT = "This password is too short: it must have at least 8 characters."
COMMON = "This password is one of the most common, which attackers try first."
NUMERIC = "This password is made of digits only."
SIMILAR_EMAIL = "This password is too similar to your e-mail address."
SIMILAR_USERNAME = "This password is too similar to your username."

ADA = SimpleNamespace(email="ada.lovelace@example.com", username="countess")


def test_minimum_length_refuses_shorter_passwords() -> None:
    assert MinimumLength()("seven77") == [TOO_SHORT]
    assert MinimumLength()("eight888") == []


def test_minimum_length_can_be_set() -> None:
    assert MinimumLength(12)("eleven chars") == []
    assert MinimumLength(12)("ten chars!") == [
        "This password is too short: it must have at least 12 characters."
    ]


@pytest.mark.parametrize("password", ["password", "PASSWORD", "PassWord", "P@ssw0rd", "qwerty123"])
def test_common_password_refuses_listed_passwords_whatever_their_case(password: str) -> None:
    assert CommonPassword()(password) == [COMMON]


def test_common_password_accepts_a_password_off_the_list() -> None:
    assert CommonPassword()("tulip umbrella seventy") == []


def test_not_all_numeric_refuses_digits_only() -> None:
    assert NotAllNumeric()("20240101") == [NUMERIC]
    assert NotAllNumeric()("2024-01-01") == []
    assert NotAllNumeric()("") == []


@pytest.mark.parametrize(
    "password", ["ada.lovelace@example.com", "lovelace", "LoveLace", "lovelace1", "adalovelace"]
)
def test_similar_to_user_refuses_passwords_close_to_the_email_or_its_parts(password: str) -> None:
    assert SimilarToUser()(password, ADA) == [SIMILAR_EMAIL]


def test_similar_to_user_names_the_username() -> None:
    assert SimilarToUser()("Countess1", ADA) == [SIMILAR_USERNAME]


def test_similar_to_user_accepts_unrelated_passwords_and_ignores_short_parts() -> None:
    user = SimpleNamespace(email="al@ex.io", username=None)

    assert SimilarToUser()("tulip umbrella seventy", ADA) == []
    assert SimilarToUser()("al", user) == []
    assert SimilarToUser()("ex", user) == []


def test_similar_to_user_needs_a_user() -> None:
    assert SimilarToUser()("ada.lovelace@example.com", None) == []


def test_similar_to_user_compares_the_attributes_it_is_given() -> None:
    validator = SimilarToUser(attributes=["username"], max_similarity=0.9)

    assert validator("lovelace", ADA) == []
    assert validator("countess", ADA) == [SIMILAR_USERNAME]
    assert validator("countes", ADA) == [SIMILAR_USERNAME]
    assert validator("count", ADA) == []


def test_validate_password_accepts_a_good_password() -> None:
    assert validate_password("tulip umbrella seventy", ADA) is None


def test_validate_password_reports_every_problem_at_once() -> None:
    with pytest.raises(PasswordRejected) as caught:
        validate_password("123456")

    assert caught.value.problems == [TOO_SHORT, COMMON, NUMERIC]
    assert str(caught.value) == f"{TOO_SHORT} {COMMON} {NUMERIC}"


def test_validate_password_reports_similarity_first() -> None:
    with pytest.raises(PasswordRejected) as caught:
        validate_password("Lovelace", ADA)

    assert caught.value.problems == [SIMILAR_EMAIL]

    with pytest.raises(PasswordRejected) as short:
        validate_password("lovelac", ADA)

    assert short.value.problems == [SIMILAR_EMAIL, TOO_SHORT]


def test_validate_password_runs_the_validators_it_is_given() -> None:
    def no_spaces(password: str, user: object = None) -> list[str]:
        return ["This password has spaces."] if " " in password else []

    validators = [MinimumLength(20), no_spaces]

    with pytest.raises(PasswordRejected) as caught:
        validate_password("a b", None, validators)

    assert caught.value.problems == [
        "This password is too short: it must have at least 20 characters.",
        "This password has spaces.",
    ]
    assert validate_password("123456", None, []) is None


def test_password_rejected_is_a_value_error_and_a_carboy_error() -> None:
    error = PasswordRejected([TOO_SHORT])

    assert isinstance(error, ValueError)
    assert isinstance(error, CarboyError)


def test_auth_keeps_its_password_validators() -> None:
    assert Auth(prefix=None).password_validators == list(DEFAULT_VALIDATORS)
    only = MinimumLength(12)
    assert Auth(prefix=None, password_validators=[only]).password_validators == [only]
