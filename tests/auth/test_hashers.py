from __future__ import annotations

import base64
import hashlib

import argon2
import argon2.profiles
import pytest

from carboy.auth import hashers
from carboy.auth.hashers import (
    PasswordCheck,
    check_password,
    is_usable,
    make_password,
    make_unusable_password,
    pbkdf2_sha256,
    spend_check_time,
)
from carboy.auth.user import User

from .conftest import CountingHasher

# Django's PBKDF2PasswordHasher().encode("carboy", "seasalt", 1000), worked out apart
# from carboy; the digest is also recomputed with hashlib below.
DJANGO_VECTOR = "pbkdf2_sha256$1000$seasalt$AxjL1pTQPfXD6VAe5YXyB7p7/sVuLYKfFWPiMl3ZQBE="


# argon2id ------------------------------------------------------------------------


def test_make_password_makes_a_salted_argon2id_hash_with_today_s_parameters() -> None:
    first = make_password("correct horse")
    second = make_password("correct horse")

    assert first.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert first != second
    assert argon2.extract_parameters(first) == argon2.profiles.RFC_9106_LOW_MEMORY
    assert "correct horse" not in first


def test_check_password_accepts_the_right_password() -> None:
    result = check_password("correct horse", make_password("correct horse"))

    assert result == PasswordCheck(is_valid=True, needs_rehash=False)
    assert bool(result) is True


def test_check_password_refuses_a_wrong_password() -> None:
    result = check_password("correct hose", make_password("correct horse"))

    assert result == PasswordCheck(is_valid=False, needs_rehash=False)
    assert bool(result) is False


def test_passwords_are_compared_exactly_case_spaces_and_unicode_included() -> None:
    encoded = make_password("Pässwort ")

    assert check_password("Pässwort ", encoded)
    assert not check_password("pässwort ", encoded)
    assert not check_password("Pässwort", encoded)
    assert not check_password("Passwort ", encoded)


def test_an_argon2_hash_with_weaker_parameters_verifies_and_needs_rehash() -> None:
    weak = argon2.PasswordHasher(time_cost=1, memory_cost=8192).hash("correct horse")

    assert check_password("correct horse", weak) == PasswordCheck(True, needs_rehash=True)
    assert check_password("wrong", weak) == PasswordCheck(False, needs_rehash=False)


def test_an_argon2i_hash_verifies_and_needs_rehash_to_argon2id() -> None:
    old = argon2.PasswordHasher(type=argon2.Type.I).hash("correct horse")

    assert old.startswith("$argon2i$")
    assert check_password("correct horse", old) == PasswordCheck(True, needs_rehash=True)


# PBKDF2-SHA256, as Django stores it -------------------------------------------------


def test_pbkdf2_sha256_writes_django_s_format() -> None:
    digest = hashlib.pbkdf2_hmac("sha256", b"carboy", b"seasalt", 1000)
    reference = f"pbkdf2_sha256$1000$seasalt${base64.b64encode(digest).decode('ascii')}"

    assert pbkdf2_sha256("carboy", "seasalt", 1000) == reference == DJANGO_VECTOR


def test_a_django_pbkdf2_hash_verifies_and_needs_rehash() -> None:
    assert check_password("carboy", DJANGO_VECTOR) == PasswordCheck(True, needs_rehash=True)


def test_a_django_pbkdf2_hash_refuses_a_wrong_password() -> None:
    assert check_password("Carboy", DJANGO_VECTOR) == PasswordCheck(False, needs_rehash=False)


def test_a_pbkdf2_hash_with_many_iterations_and_a_unicode_password_verifies() -> None:
    digest = hashlib.pbkdf2_hmac("sha256", "mot de passe é".encode(), b"NaCl2024", 260000)
    encoded = f"pbkdf2_sha256$260000$NaCl2024${base64.b64encode(digest).decode('ascii')}"

    assert check_password("mot de passe é", encoded) == PasswordCheck(True, needs_rehash=True)


# Unusable and malformed hashes -------------------------------------------------------


def test_an_unusable_password_matches_nothing() -> None:
    unusable = make_unusable_password()

    assert unusable.startswith("!")
    assert unusable != make_unusable_password()
    assert not is_usable(unusable)
    assert check_password("", unusable) == PasswordCheck(False)
    assert check_password(unusable, unusable) == PasswordCheck(False)
    assert check_password(unusable[1:], unusable) == PasswordCheck(False)


@pytest.mark.parametrize("encoded", [None, ""])
def test_a_missing_password_is_unusable(encoded: str | None) -> None:
    assert not is_usable(encoded)
    assert check_password("", encoded) == PasswordCheck(False)


def test_a_user_s_password_can_be_set_and_made_unusable() -> None:
    user = User(email="ada@example.com")

    user.set_password("correct horse")
    assert user.has_usable_password()
    assert check_password("correct horse", user.password)

    user.set_unusable_password()
    assert not user.has_usable_password()
    assert not check_password("correct horse", user.password)


MALFORMED = [
    "plain text",
    "md5$salt$5f4dcc3b5aa765d61d8327deb882cf99",
    "$argon2id$",
    "$argon2id$garbage",
    "$argon2id$v=19$m=65536,t=3,p=4$!!!$!!!",
    "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ",
    "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$é",
    "$argon2xx$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaA",
    "pbkdf2_sha256",
    "pbkdf2_sha256$",
    "pbkdf2_sha256$1000$salt",
    "pbkdf2_sha256$many$salt$hash",
    "pbkdf2_sha256$0$salt$hash",
    "pbkdf2_sha256$-1000$salt$hash",
    "pbkdf2_sha256$99999999999999999999999$salt$hash",
    "pbkdf2_sha256$1000$salt$not base64 ✓",
    "\x00",
]


@pytest.mark.parametrize("encoded", MALFORMED)
def test_a_malformed_hash_is_a_wrong_password_and_never_raises(encoded: str) -> None:
    assert check_password("password", encoded) == PasswordCheck(False)


@pytest.mark.parametrize(
    "encoded",
    [make_password("x"), DJANGO_VECTOR, None, "md5$x$y"],
    # Ids that do not depend on the salt: xdist's workers must collect the same tests.
    ids=["argon2id", "pbkdf2", "none", "md5"],
)
def test_a_password_that_cannot_be_encoded_is_wrong_and_never_raises(encoded: str | None) -> None:
    # A lone surrogate has no UTF-8 form.
    assert check_password("\ud800", encoded) == PasswordCheck(False)


# Spending the time of a real check ------------------------------------------------


def test_spend_check_time_verifies_an_argon2id_hash_of_today_s_parameters(
    counting_hasher: CountingHasher,
) -> None:
    spend_check_time("guess")

    assert len(counting_hasher.verified) == 1
    assert argon2.extract_parameters(counting_hasher.verified[0]) == argon2.extract_parameters(
        make_password("x")
    )


@pytest.mark.parametrize(
    "encoded",
    [None, "", make_unusable_password(), "md5$x$y", "pbkdf2_sha256$0$salt$hash"],
    ids=["none", "empty", "unusable", "md5", "pbkdf2-zero-rounds"],
)
def test_checks_that_cannot_succeed_still_spend_one_argon2_verification(
    counting_hasher: CountingHasher, encoded: str | None
) -> None:
    check_password("guess", encoded)

    assert counting_hasher.verified == [hashers._dummy_hash()]


def test_a_real_check_spends_one_argon2_verification(counting_hasher: CountingHasher) -> None:
    encoded = make_password("correct horse")

    check_password("guess", encoded)

    assert counting_hasher.verified == [encoded]


# Cheap hashing, for tests ----------------------------------------------------------------------


def test_cheap_hashing_makes_light_argon2id_hashes_inside_the_block_only() -> None:
    before = hashers.make_password("a password")
    with hashers.cheap_hashing():
        cheap = hashers.make_password("a password")
        with hashers.cheap_hashing():
            nested = hashers.make_password("a password")
        still_cheap = hashers.make_password("a password")
        assert hashers.check_password("a password", before).is_valid
    after = hashers.make_password("a password")

    assert cheap.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert nested.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert still_cheap.startswith("$argon2id$v=19$m=8,t=1,p=1$")
    assert before.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert after.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    # A cheap hash is a real one: checked by the same code, and due for an upgrade.
    assert hashers.check_password("a password", cheap) == hashers.PasswordCheck(True, True)
    assert not hashers.check_password("another", cheap).is_valid
