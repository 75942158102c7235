"""Signed, timestamped values: what sessions and tokens are made of.

A value is signed with HMAC-SHA256 under the app's secret key; values signed
under a former key (``secret_key_fallbacks``) still verify, so keys can be
rotated without logging everybody out. Each use gets its own derived key
(``salt``), so a signature made for one purpose never verifies for another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence

from carboy.exceptions import CarboyError

__all__ = ["BadSignature", "Signer"]


class BadSignature(CarboyError):
    """A signed value was tampered with, signed under another key, or expired."""


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    return base64.urlsafe_b64decode(padded.encode("ascii"))


class Signer:
    """Sign and verify byte strings with a timestamp.

    Args:
        keys: The current secret key first, then former keys still accepted.
        salt: What the signatures are for, such as ``"carboy.session"``.

    Example::

        signer = Signer([b"current", b"former"], salt="carboy.session")
        token = signer.sign(b"payload")
        assert signer.unsign(token, max_age=3600) == b"payload"
    """

    def __init__(self, keys: Sequence[bytes], *, salt: str) -> None:
        if not keys:
            raise ValueError("A Signer needs at least one key.")
        self._keys = [hashlib.sha256(salt.encode() + b"\x00" + key).digest() for key in keys]

    def _signature(self, key: bytes, message: bytes) -> str:
        return _b64encode(hmac.new(key, message, hashlib.sha256).digest())

    def sign(self, value: bytes, *, timestamp: int | None = None) -> str:
        """Return ``value`` with its timestamp and signature, as URL-safe text."""
        stamp = int(time.time()) if timestamp is None else timestamp
        message = f"{_b64encode(value)}.{stamp:x}"
        return f"{message}.{self._signature(self._keys[0], message.encode('ascii'))}"

    def unsign(self, token: str, *, max_age: int | None = None) -> bytes:
        """Return the value of a token made by ``sign``.

        Raises:
            BadSignature: when the token is malformed, its signature does not
                verify under any key, or it is older than ``max_age`` seconds.
        """
        message, dot, signature = token.rpartition(".")
        encoded, dot2, stamp_text = message.partition(".")
        if not dot or not dot2 or len(token) > 16384 or not token.isascii():
            # compare_digest refuses str with non-ASCII characters (TypeError):
            # a hostile cookie must be a bad signature, not a server error.
            raise BadSignature("The signed value is malformed.")
        message_bytes = message.encode("ascii", "replace")
        if not any(
            hmac.compare_digest(signature, self._signature(key, message_bytes))
            for key in self._keys
        ):
            raise BadSignature("The signature does not match.")
        try:
            stamp = int(stamp_text, 16)
            value = _b64decode(encoded)
        except ValueError:
            raise BadSignature("The signed value is malformed.") from None
        if max_age is not None and time.time() - stamp > max_age:
            raise BadSignature("The signed value has expired.")
        return value
