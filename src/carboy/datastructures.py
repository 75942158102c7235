"""The small containers requests and responses are made of.

``Headers`` and ``QueryParams`` are multi-valued (a name may repeat) and read
lazily from the ASGI scope; ``URL`` is parsed once, on first use.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple
from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit

from carboy.exceptions import HTTPException
from carboy.types import Scope

__all__ = [
    "URL",
    "Address",
    "Headers",
    "ImmutableMultiDict",
    "MultiDict",
    "MutableHeaders",
    "QueryParams",
    "State",
]


class Address(NamedTuple):
    """A network peer: ``host`` and ``port``."""

    host: str
    port: int


class URL:
    """A URL, parsed on first use of a part.

    Example:
        ``URL("https://example.com/a?b=1").replace(path="/c")``
    """

    __slots__ = ("_parts", "_url")

    def __init__(self, url: str = "") -> None:
        self._url = url
        self._parts: SplitResult | None = None

    @classmethod
    def from_scope(cls, scope: Scope) -> URL:
        """Rebuild the URL a client asked for from an ASGI scope."""
        scheme = scope.get("scheme", "http")
        # ASGI: "path" already holds "root_path" (the mount prefix).
        path = scope["path"]
        query = scope.get("query_string", b"")
        host = None
        for name, value in scope["headers"]:
            if name == b"host":
                host = value.decode("latin-1")
                break
        if host is None:
            server = scope.get("server")
            if server is None:
                host = ""
            else:
                host_name, port = server
                if ":" in host_name:
                    host_name = f"[{host_name}]"  # RFC 3986 3.2.2: an IPv6 literal
                default = {"http": 80, "https": 443, "ws": 80, "wss": 443}.get(scheme)
                host = host_name if port in (default, None) else f"{host_name}:{port}"
        url = f"{scheme}://{host}{path}" if host else path
        if query:
            url += "?" + query.decode("latin-1")
        return cls(url)

    @property
    def parts(self) -> SplitResult:
        if self._parts is None:
            self._parts = urlsplit(self._url)
        return self._parts

    @property
    def scheme(self) -> str:
        return self.parts.scheme

    @property
    def netloc(self) -> str:
        return self.parts.netloc

    @property
    def hostname(self) -> str | None:
        return self.parts.hostname

    @property
    def port(self) -> int | None:
        return self.parts.port

    @property
    def path(self) -> str:
        return self.parts.path

    @property
    def query(self) -> str:
        return self.parts.query

    @property
    def fragment(self) -> str:
        return self.parts.fragment

    @property
    def is_secure(self) -> bool:
        return self.scheme in ("https", "wss")

    def replace(self, **parts: str) -> URL:
        """Return a copy with some parts (scheme, netloc, path, query, fragment) replaced."""
        return URL(self.parts._replace(**parts).geturl())

    def include_query_params(self, **params: Any) -> URL:
        """Return a copy with the given query parameters set."""
        query = MultiDict(parse_qsl(self.query, keep_blank_values=True))
        for key, value in params.items():
            query[key] = str(value)
        return self.replace(query=urlencode(query.multi_items()))

    def __str__(self) -> str:
        return self._url

    def __repr__(self) -> str:
        return f"URL({self._url!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, (str, URL)) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(self._url)


class ImmutableMultiDict(Mapping[str, Any]):
    """A mapping where a key may have several values.

    ``md[key]`` and ``md.get(key)`` give the last value, as a form or query
    string user expects of ``?a=1&a=2``; ``md.getlist(key)`` gives them all.
    """

    __slots__ = ("_dict", "_list")

    def __init__(
        self,
        items: Mapping[str, Any] | Iterable[tuple[str, Any]] | None = None,
    ) -> None:
        if items is None:
            pairs: list[tuple[str, Any]] = []
        elif isinstance(items, ImmutableMultiDict):
            pairs = items.multi_items()
        elif isinstance(items, Mapping):
            pairs = list(items.items())
        else:
            pairs = list(items)
        self._list = pairs
        self._dict = dict(pairs)

    def getlist(self, key: str) -> list[Any]:
        """Return every value of ``key``, in order; an empty list if there is none."""
        return [value for name, value in self._list if name == key]

    def multi_items(self) -> list[tuple[str, Any]]:
        """Return every (key, value) pair, repeated keys included, in order."""
        return list(self._list)

    def __getitem__(self, key: str) -> Any:
        return self._dict[key]

    def __contains__(self, key: object) -> bool:
        return key in self._dict

    def __iter__(self) -> Iterator[str]:
        return iter(self._dict)

    def __len__(self) -> int:
        return len(self._dict)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ImmutableMultiDict):
            return NotImplemented
        return sorted(self._list) == sorted(other._list)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._list!r})"


class MultiDict(ImmutableMultiDict):
    """An ``ImmutableMultiDict`` that can be changed."""

    __slots__ = ()

    def __setitem__(self, key: str, value: Any) -> None:
        self._list = [(k, v) for k, v in self._list if k != key]
        self._list.append((key, value))
        self._dict[key] = value

    def __delitem__(self, key: str) -> None:
        self._list = [(k, v) for k, v in self._list if k != key]
        del self._dict[key]

    def append(self, key: str, value: Any) -> None:
        """Add a value for ``key``, keeping those it already has."""
        self._list.append((key, value))
        self._dict[key] = value

    def setlist(self, key: str, values: Sequence[Any]) -> None:
        """Replace every value of ``key`` with ``values``."""
        self._list = [(k, v) for k, v in self._list if k != key]
        if values:
            self._list.extend((key, value) for value in values)
            self._dict[key] = values[-1]
        else:
            self._dict.pop(key, None)


class QueryParams(ImmutableMultiDict):
    """The query string's parameters, decoded as UTF-8.

    Raises:
        HTTPException: 400 if the query string is not valid UTF-8 once
            percent-decoded.
    """

    __slots__ = ()

    def __init__(self, query: bytes | str | Iterable[tuple[str, Any]] = b"") -> None:
        try:
            if isinstance(query, bytes):
                # Clients such as curl send non-ASCII characters unencoded.
                query = query.decode("utf-8")
            if isinstance(query, str):
                pairs = parse_qsl(query, keep_blank_values=True, errors="strict")
            else:
                pairs = list(query)
        except UnicodeDecodeError:
            raise HTTPException(400, "The query string is not valid UTF-8.") from None
        for name, value in pairs:
            if isinstance(value, str) and ("\x00" in value or "\x00" in name):
                # No database column stores a NUL, and C libraries cut text at it.
                raise HTTPException(
                    400,
                    f"The query parameter {name.replace(chr(0), '%00')[:100]!r} contains a NUL "
                    "character (%00), which this site does not accept.",
                )
        super().__init__(pairs)

    def __str__(self) -> str:
        return urlencode(self._list)


class Headers(Mapping[str, str]):
    """Request or response headers: names are case-insensitive, and may repeat.

    ``headers["accept"]`` gives the first value; ``headers.getlist("cookie")``
    every one. Values are decoded as Latin-1, as RFC 9110 5.5 allows.
    """

    __slots__ = ("_raw",)

    def __init__(
        self,
        headers: Mapping[str, str] | None = None,
        *,
        raw: list[tuple[bytes, bytes]] | None = None,
        scope: Scope | None = None,
    ) -> None:
        if scope is not None:
            self._raw: list[tuple[bytes, bytes]] = scope["headers"]
        elif raw is not None:
            self._raw = raw
        elif headers is not None:
            self._raw = [
                (key.lower().encode("latin-1"), value.encode("latin-1"))
                for key, value in headers.items()
            ]
        else:
            self._raw = []

    @property
    def raw(self) -> list[tuple[bytes, bytes]]:
        """The headers as ASGI gives them: (lower-case name, value) byte pairs."""
        return self._raw

    def getlist(self, key: str) -> list[str]:
        """Return every value of the header ``key``, in order."""
        name = key.lower().encode("latin-1")
        return [value.decode("latin-1") for key_, value in self._raw if key_ == name]

    def keys(self) -> list[str]:  # type: ignore[override]
        return [key.decode("latin-1") for key, _ in self._raw]

    def values(self) -> list[str]:  # type: ignore[override]
        return [value.decode("latin-1") for _, value in self._raw]

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        return [(key.decode("latin-1"), value.decode("latin-1")) for key, value in self._raw]

    def __getitem__(self, key: str) -> str:
        name = key.lower().encode("latin-1")
        for key_, value in self._raw:
            if key_ == name:
                return value.decode("latin-1")
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        name = key.lower().encode("latin-1")
        return any(key_ == name for key_, _ in self._raw)

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self._raw)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return sorted(self._raw) == sorted(other._raw)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.items()!r})"


class MutableHeaders(Headers):
    """Response headers that can be changed.

    Raises:
        ValueError: on a name or value holding CR, LF or NUL, which would
            let a value split the response (RFC 9110 5.5).
    """

    __slots__ = ()

    def __setitem__(self, key: str, value: str) -> None:
        name, raw_value = _encode_header(key, value)
        found = False
        kept: list[tuple[bytes, bytes]] = []
        for pair in self._raw:
            if pair[0] == name:
                if not found:
                    kept.append((name, raw_value))
                    found = True
            else:
                kept.append(pair)
        if not found:
            kept.append((name, raw_value))
        self._raw[:] = kept

    def __delitem__(self, key: str) -> None:
        name = key.lower().encode("latin-1")
        self._raw[:] = [pair for pair in self._raw if pair[0] != name]

    def append(self, key: str, value: str) -> None:
        """Add a header, keeping any other of the same name (as for Set-Cookie)."""
        self._raw.append(_encode_header(key, value))

    def setdefault(self, key: str, value: str) -> str:
        """Set the header if it is not set; return its value."""
        if key in self:
            return self[key]
        self.append(key, value)
        return value

    def update(self, headers: Mapping[str, str]) -> None:
        """Set each of the given headers, replacing earlier values."""
        for key, value in headers.items():
            self[key] = value

    def add_vary_header(self, vary: str) -> None:
        """Add a name to the ``Vary`` header, keeping the names already there."""
        # Several Vary headers make one list (RFC 9110 5.3): they merge into one.
        names = [part.strip() for value in self.getlist("vary") for part in value.split(",")]
        names = [name for name in names if name]
        if vary.lower() not in {name.lower() for name in names}:
            names.append(vary)
        self["vary"] = ", ".join(names)


_FORBIDDEN_IN_HEADERS = frozenset("\r\n\0")


def _encode_header(key: str, value: str) -> tuple[bytes, bytes]:
    if _FORBIDDEN_IN_HEADERS.intersection(key) or _FORBIDDEN_IN_HEADERS.intersection(value):
        raise ValueError(
            f"The header {key!r} holds a CR, LF or NUL character, which would let it split "
            "the response. Remove them, or percent-encode the value."
        )
    return key.lower().encode("latin-1"), value.encode("latin-1")


class State:
    """A namespace for anything an application keeps: ``app.state.db = ...``.

    Reading a name that was never set raises ``AttributeError`` naming it.
    """

    def __init__(self, values: Mapping[str, Any] | None = None) -> None:
        self.__dict__["_values"] = dict(values or {})

    def __setattr__(self, name: str, value: Any) -> None:
        self._values[name] = value

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_values"][name]
        except KeyError:
            raise AttributeError(f"The state has no attribute {name!r}; set it first.") from None

    def __delattr__(self, name: str) -> None:
        try:
            del self._values[name]
        except KeyError:
            raise AttributeError(f"The state has no attribute {name!r}; set it first.") from None

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def update(self, values: Mapping[str, Any]) -> None:
        """Set several names at once."""
        self._values.update(values)

    def __repr__(self) -> str:
        return f"State({self._values!r})"
