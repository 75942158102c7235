"""How a Python value is written in a form field, the way a browser sends it back."""

from __future__ import annotations

import datetime
import enum


def value_text(value: object) -> str:
    """Return ``value`` as form text: ``2024-05-01``, ``pro``, ``13``."""
    if isinstance(value, enum.Enum):
        return str(value.value)
    if isinstance(value, datetime.datetime):
        # datetime-local has no time zone: an aware value shows its wall time.
        return value.replace(tzinfo=None).isoformat()
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    return str(value)
