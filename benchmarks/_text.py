"""Shorten subprocess output for the console and for table cells."""

from __future__ import annotations


def last_lines(text: str, count: int = 15) -> str:
    """Return the last ``count`` lines of ``text``, indented for the console."""
    return "\n".join("    " + line for line in text.strip().splitlines()[-count:])


def first_line(text: str, width: int = 120) -> str:
    """Return the first line of ``text``, cut to ``width``, safe in a Markdown cell."""
    stripped = text.strip()
    line = stripped.splitlines()[0] if stripped else ""
    return line.replace("|", "\\|")[:width]
