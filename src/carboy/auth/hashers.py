"""Password hashing: argon2id for new hashes; PBKDF2-SHA256 verified and upgraded.

A stored hash names its algorithm, so that hashes of several kinds live side
by side and each is verified by its own code:

- ``$argon2id$v=19$m=...,t=...,p=...$<salt>$<hash>``: argon2id's own format,
  made and checked by argon2-cffi. Every new hash is one.
- ``pbkdf2_sha256$<iterations>$<salt>$<base64 hash>``: PBKDF2 with SHA-256, the
  format Django stores, checked with hashlib so that users of a Django site
  moved to carboy keep their passwords.

``check_password`` also says when a hash should be replaced (an older
algorithm, or argon2 parameters below today's), which login does with the
password it has just verified.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from argon2 import PasswordHasher

__all__ = [
    "UNUSABLE_PREFIX",
    "PasswordCheck",
    "cheap_hashing",
    "check_password",
    "is_usable",
    "make_password",
    "make_unusable_password",
    "pbkdf2_sha256",
    "spend_check_time",
]

UNUSABLE_PREFIX = "!"
"""The start of a password that matches nothing: a user who signs in another way."""

_PBKDF2 = "pbkdf2_sha256"


class _Cheapness:
    """How many ``cheap_hashing`` blocks are open; hashing is cheap while any is."""

    depth = 0


def _argon2() -> PasswordHasher:
    return _hasher(is_cheap=_Cheapness.depth > 0)


@cache
def _hasher(*, is_cheap: bool) -> PasswordHasher:
    try:
        from argon2 import PasswordHasher
    except ImportError:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            "Password hashing needs argon2-cffi, which is not installed. Install it with: "
            "pip install 'carboy[auth]'"
        ) from None
    if is_cheap:
        # argon2id at its lightest, for tests: one pass over 8 KiB, one lane.
        return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    # argon2-cffi's defaults follow RFC 9106's second recommended option.
    return PasswordHasher()


@contextmanager
def cheap_hashing() -> Iterator[None]:
    """Hash and check passwords at argon2id's lowest cost inside the block; for tests only.

    The hashes keep argon2id's format and go through the same code, in about
    a millisecond instead of the fraction of a second that the real
    parameters take, so that a test suite which signs many users in stays
    fast. carboy's pytest plugin opens one for a project's whole test
    session. Never serve with it: such hashes are cheap to crack.

    Example::

        with cheap_hashing():
            user.set_password("correct horse battery staple")
    """
    _dummy_hash.cache_clear()
    _Cheapness.depth += 1
    try:
        yield
    finally:
        _Cheapness.depth -= 1
        _dummy_hash.cache_clear()


@dataclass(frozen=True)
class PasswordCheck:
    """What ``check_password`` found."""

    is_valid: bool
    needs_rehash: bool = False
    """The password is right, and its hash should be replaced by a new argon2id one."""

    def __bool__(self) -> bool:
        return self.is_valid


def make_password(password: str) -> str:
    """Return an argon2id hash of ``password``, salted, ready to store."""
    return _argon2().hash(password)


def make_unusable_password() -> str:
    """Return a stored password that no password matches."""
    import secrets

    return UNUSABLE_PREFIX + secrets.token_urlsafe(30)


def is_usable(encoded: str | None) -> bool:
    """Whether ``encoded`` is a hash some password can match."""
    return bool(encoded) and not str(encoded).startswith(UNUSABLE_PREFIX)


def pbkdf2_sha256(password: str, salt: str, iterations: int) -> str:
    """Return a PBKDF2-SHA256 hash in Django's stored format."""
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"{_PBKDF2}${iterations}${salt}${base64.b64encode(digest).decode('ascii')}"


def check_password(password: str, encoded: str | None) -> PasswordCheck:
    """Check ``password`` against the stored hash ``encoded``, in constant time.

    An unknown format, an unusable password and ``None`` are all a wrong
    password, after the time a real check takes.
    """
    if not is_usable(encoded) or encoded is None:
        spend_check_time(password)
        return PasswordCheck(False)
    if encoded.startswith("$argon2"):
        return _check_argon2(password, encoded)
    if encoded.startswith(_PBKDF2 + "$"):
        return _check_pbkdf2(password, encoded)
    spend_check_time(password)
    return PasswordCheck(False)


def _check_argon2(password: str, encoded: str) -> PasswordCheck:
    from argon2.exceptions import InvalidHashError, VerificationError

    hasher = _argon2()
    try:
        hasher.verify(encoded, password)
    except (VerificationError, InvalidHashError, UnicodeError):
        # UnicodeError: a hash that is not ASCII, or a password with no UTF-8
        # form (a lone surrogate), neither of which can match.
        return PasswordCheck(False)
    return PasswordCheck(True, hasher.check_needs_rehash(encoded))


def _check_pbkdf2(password: str, encoded: str) -> PasswordCheck:
    try:
        _, iterations, salt, _ = encoded.split("$", 3)
        expected = pbkdf2_sha256(password, salt, int(iterations))
    except (ValueError, OverflowError):
        # A count that is not a number, or not a positive C long; a password
        # with no UTF-8 form (UnicodeError is a ValueError).
        spend_check_time(password)
        return PasswordCheck(False)
    # Any correct PBKDF2 password moves to argon2id at its next login.
    is_valid = hmac.compare_digest(expected.encode(), encoded.encode())
    return PasswordCheck(is_valid, needs_rehash=is_valid)


@cache
def _dummy_hash() -> str:
    return make_password("carboy: a password nobody has")


def spend_check_time(password: str) -> None:
    """Take as long as checking a real password, so that timing tells nothing.

    Called for an unknown user, so that an attacker cannot learn which
    e-mail addresses have accounts from how fast a wrong login fails.
    """
    _check_argon2(password, _dummy_hash())
