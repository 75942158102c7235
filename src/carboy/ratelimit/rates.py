"""Rates: how many requests a period allows, written as ``"5/minute"``.

::

    parse_rate("5/minute")        # Rate(limit=5, window=60)
    parse_rate("100/hour")        # Rate(limit=100, window=3600)
    parse_rate("5/10 minutes")    # Rate(limit=5, window=600)

A rate is a count, a slash, an optional multiple and a unit: ``second``,
``minute``, ``hour`` or ``day``, singular or plural, in any case. Rates are
parsed once, where they are declared, so a typo stops the app at import time.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from carboy.exceptions import ImproperlyConfigured

__all__ = ["Rate", "parse_rate"]

UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}
"""The seconds in each unit a rate may name."""

# Nine digits at most: a count or a multiple past a billion is a typo, and
# the window in milliseconds stays far inside Redis's 64-bit expiry.
_RATE = re.compile(r"\s*(\d{1,9})\s*/\s*(\d{1,9})?\s*(second|minute|hour|day)s?\s*", re.IGNORECASE)

_FORMS = "'5/minute', '100/hour', '10/second', '1000/day' or '5/10 minutes'"


@dataclass(frozen=True)
class Rate:
    """A number of requests allowed in each window of time.

    Attributes:
        limit: Requests allowed per window, 1 or more.
        window: The window's length in seconds.
        text: The rate as written, such as ``"5/minute"``.
    """

    limit: int
    window: int
    text: str = ""

    def describe(self) -> str:
        """Say the rate in words: ``"5 per minute"``, ``"5 per 10 minutes"``."""
        # The largest unit that divides the window: 600 s is "10 minutes".
        unit = next(
            name for name in ("day", "hour", "minute", "second") if not self.window % UNITS[name]
        )
        multiple = self.window // UNITS[unit]
        period = unit if multiple == 1 else f"{multiple} {unit}s"
        return f"{self.limit} per {period}"

    @property
    def policy(self) -> str:
        """The quota policy item of the ``RateLimit-Policy`` header: ``"5;w=60"``."""
        return f"{self.limit};w={self.window}"


def parse_rate(rate: str | Rate) -> Rate:
    """Read a rate such as ``"5/minute"``; a ``Rate`` is returned as it is.

    Raises:
        ImproperlyConfigured: when ``rate`` is not a rate, or allows nothing.

    Example::

        parse_rate("5/10 minutes").window     # 600
    """
    if isinstance(rate, Rate):
        return rate
    if not isinstance(rate, str):
        raise ImproperlyConfigured(
            f"A rate is a string such as '5/minute', not {type(rate).__name__}. "
            f"Write one of {_FORMS}."
        )
    return _parse(rate)


@functools.lru_cache(maxsize=256)
def _parse(text: str) -> Rate:
    match = _RATE.fullmatch(text)
    if match is None:
        raise ImproperlyConfigured(
            f"The rate {text[:100]!r} cannot be read. Write a count, a slash and a period, "
            f"such as {_FORMS}."
        )
    count, multiple, unit = match.groups()
    limit = int(count)
    periods = 1 if multiple is None else int(multiple)
    if limit == 0:
        raise ImproperlyConfigured(
            f"The rate {text!r} allows no request at all. Give a count of 1 or more, "
            "such as '1/minute'; to refuse every request, remove the route instead."
        )
    if periods == 0:
        raise ImproperlyConfigured(
            f"The rate {text!r} has a period of zero. Give a period of 1 or more, "
            "such as '5/10 seconds'."
        )
    return Rate(limit, periods * UNITS[unit.lower()], text)
