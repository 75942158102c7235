"""What the mail battery raises.

::

    carboy.exceptions.CarboyError
    └── MailError                 an email could not be sent
        └── InvalidMessageError   an email cannot be built (also a ValueError)

A setup mistake, such as the smtp backend without a host, is an
``ImproperlyConfigured``, as everywhere in carboy.
"""

from __future__ import annotations

from carboy.exceptions import CarboyError

__all__ = ["InvalidMessageError", "MailError"]


class MailError(CarboyError):
    """An email could not be sent: the server is unreachable, or refused it."""


class InvalidMessageError(MailError, ValueError):
    """An email cannot be built: a line break in a header, a bad header, no recipient."""
