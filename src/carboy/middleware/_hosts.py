"""Parse a ``Host`` header value into a host and a port, refusing malformed ones.

Shared by the middleware that read the Host header: a value that does not
parse is never matched, echoed or put into a ``Location``.
"""

from __future__ import annotations

import ipaddress
import re

from carboy.types import Scope

__all__ = ["format_host", "host_from_scope", "split_host"]

# RFC 3986 3.2.2: reg-name = *( unreserved / pct-encoded / sub-delims ).
# Anything else (space, "/", "@", "\", CR, LF, non-ASCII) cannot be a host.
_REG_NAME = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+")
_PORT = re.compile(r"[0-9]{1,5}")


def split_host(value: str) -> tuple[str, int | None] | None:
    """Split a Host header value into a normalised host and its port.

    The host is lower-cased (RFC 3986 3.2.2: hosts are case-insensitive), a
    single trailing dot of a fully qualified name is dropped, and an IPv6
    literal keeps its brackets in compressed form, so that ``[0:0::1]`` and
    ``[::1]`` compare equal.

    Args:
        value: The header value, as sent.

    Returns:
        ``(host, port)``, with ``port`` ``None`` when the value has none; or
        ``None`` when the value is not a host RFC 3986 allows.

    Example:
        ``split_host("[::1]:8000") == ("[::1]", 8000)``
    """
    if value.startswith("["):
        end = value.find("]")
        if end == -1:
            return None
        host = _normalise_ipv6(value[1:end])
        rest = value[end + 1 :]
    else:
        name, colon, port_text = value.partition(":")
        host = _normalise_reg_name(name)
        rest = colon + port_text
    if host is None:
        return None
    if not rest:
        return host, None
    if not rest.startswith(":") or not _PORT.fullmatch(rest[1:]):
        return None
    port = int(rest[1:])
    if port > 65535:
        return None
    return host, port


def host_from_scope(scope: Scope) -> tuple[str, int | None] | None:
    """Return the request's ``(host, port)`` from its one Host header.

    Returns:
        The split host, or ``None`` when the Host header is missing, repeated
        (RFC 9112 3.2: a server must refuse more than one) or malformed.
    """
    values = [value for name, value in scope["headers"] if name == b"host"]
    if len(values) != 1:
        return None
    return split_host(values[0].decode("latin-1"))


def format_host(host: str, port: int | None, default_port: int) -> str:
    """Join a host and a port for a URL, leaving out the scheme's default port."""
    if ":" in host and not host.startswith("["):
        # An IPv6 address from scope["server"] comes without brackets.
        host = f"[{host}]"
    if port is None or port == default_port:
        return host
    return f"{host}:{port}"


def _normalise_reg_name(name: str) -> str | None:
    if not _REG_NAME.fullmatch(name):
        return None
    name = name.lower()
    if name.endswith("."):
        name = name[:-1]
    return name or None


def _normalise_ipv6(literal: str) -> str | None:
    # A zone id (RFC 6874) names an interface of the client's machine and
    # means nothing in a Host header; ipaddress would otherwise accept one.
    if "%" in literal:
        return None
    try:
        address = ipaddress.IPv6Address(literal)
    except ValueError:
        return None
    return f"[{address.compressed}]"
