"""Security schemes: dependencies that read a request's credential, and document it.

Each scheme is a dependency (an instance with an async ``__call__``) that
returns the credential as sent: a bearer token or an API key. It does not
check it; the dependency that does takes the credential in turn::

    bearer = HTTPBearer(bearer_format="JWT")

    async def current_user(token: Annotated[str, Depends(bearer)]) -> User:
        user = await users.by_token(token)
        if user is None:
            raise HTTPException(401, "The token is unknown or expired.")
        return user

The OpenAPI document lists every scheme found among an operation's
dependencies under ``components/securitySchemes``, and as the operation's
``security``; the docs page then offers to send the credential.

A missing or malformed credential ends the request with a 401 problem and a
``WWW-Authenticate`` header (RFC 9110 11.6.1), or, with ``auto_error=False``,
gives ``None`` so that the handler may serve anonymous clients too. On a
WebSocket it refuses the handshake with close code 1008 (policy violation).
"""

from __future__ import annotations

import abc
import re
from typing import Any, Literal, NoReturn

from carboy.exceptions import HTTPException, WebSocketException
from carboy.requests import HTTPConnection

__all__ = ["APIKeyCookie", "APIKeyHeader", "APIKeyQuery", "HTTPBearer", "SecurityScheme"]

# RFC 6750 2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


class SecurityScheme(abc.ABC):
    """The base of security schemes: a dependency that also describes itself to OpenAPI.

    Args:
        scheme_name: The scheme's name in the OpenAPI document; the class name
            by default. Two schemes of one class with different settings need
            different names.
        description: What the docs page says of the scheme.
        auto_error: Answer a missing or malformed credential with 401; if
            false, pass ``None`` to the handler instead.
    """

    def __init__(
        self,
        *,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        self.scheme_name = scheme_name or type(self).__name__
        self.description = description
        self.auto_error = auto_error

    @abc.abstractmethod
    def openapi_scheme(self) -> dict[str, Any]:
        """Return the scheme's OpenAPI Security Scheme Object."""

    @abc.abstractmethod
    async def __call__(self, request: HTTPConnection) -> str | None:
        """Return the request's credential; ``None`` if it has none and ``auto_error`` is off."""

    def _described(self, scheme: dict[str, Any]) -> dict[str, Any]:
        if self.description is not None:
            scheme["description"] = self.description
        return scheme

    def _refuse(self, connection: HTTPConnection, detail: str, challenge: str) -> NoReturn:
        if connection.scope["type"] == "websocket":
            # RFC 6455 7.4.1: 1008, the connection breaks the server's policy.
            raise WebSocketException(1008, detail)
        raise HTTPException(401, detail, headers={"WWW-Authenticate": challenge})

    def __repr__(self) -> str:
        return f"{type(self).__name__}(scheme_name={self.scheme_name!r})"


class HTTPBearer(SecurityScheme):
    """A bearer token in the ``Authorization`` header (RFC 6750): the token, as a ``str``.

    Args:
        bearer_format: A hint of the token's format for the docs, such as ``"JWT"``.
        scheme_name, description, auto_error: As for ``SecurityScheme``.

    Example:
        ``token: Annotated[str, Depends(HTTPBearer())]``
    """

    def __init__(
        self,
        *,
        bearer_format: str | None = None,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        super().__init__(scheme_name=scheme_name, description=description, auto_error=auto_error)
        self.bearer_format = bearer_format

    def openapi_scheme(self) -> dict[str, Any]:
        """Return ``{"type": "http", "scheme": "bearer"}``, with the format and description."""
        scheme: dict[str, Any] = {"type": "http", "scheme": "bearer"}
        if self.bearer_format is not None:
            scheme["bearerFormat"] = self.bearer_format
        return self._described(scheme)

    async def __call__(self, request: HTTPConnection) -> str | None:
        """Return the request's bearer token.

        Raises:
            HTTPException: 401, when there is none or it is malformed and
                ``auto_error`` is true.
        """
        header = request.headers.get("authorization")
        if header is None:
            if self.auto_error:
                self._refuse(
                    request,
                    "The request carries no credentials: send a bearer token in the "
                    "Authorization header, as 'Authorization: Bearer <token>'.",
                    "Bearer",
                )
            return None
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        # RFC 9110 11.1: the scheme name is case-insensitive.
        if scheme.lower() != "bearer" or _B64TOKEN.fullmatch(token) is None:
            if self.auto_error:
                self._refuse(
                    request,
                    "The Authorization header does not hold a bearer token: send it as "
                    "'Authorization: Bearer <token>'.",
                    "Bearer",
                )
            return None
        return token


class _APIKey(SecurityScheme, abc.ABC):
    location: Literal["header", "query", "cookie"]
    where: str

    def __init__(
        self,
        name: str,
        *,
        scheme_name: str | None = None,
        description: str | None = None,
        auto_error: bool = True,
    ) -> None:
        super().__init__(scheme_name=scheme_name, description=description, auto_error=auto_error)
        self.name = name

    def openapi_scheme(self) -> dict[str, Any]:
        """Return ``{"type": "apiKey", "in": ..., "name": ...}``, with the description."""
        return self._described({"type": "apiKey", "in": self.location, "name": self.name})

    @abc.abstractmethod
    def _read(self, connection: HTTPConnection) -> str | None:
        """Return the key as the request carries it, or ``None``."""

    async def __call__(self, request: HTTPConnection) -> str | None:
        """Return the request's API key.

        Raises:
            HTTPException: 401, when there is none and ``auto_error`` is true.
        """
        key = self._read(request)
        if key:
            return key
        if self.auto_error:
            self._refuse(
                request,
                f"The request carries no API key: send it in the {self.where.format(self.name)}.",
                "APIKey",
            )
        return None


class APIKeyHeader(_APIKey):
    """An API key in a request header: the key, as a ``str``.

    Args:
        name: The header, such as ``"X-API-Key"``.
        scheme_name, description, auto_error: As for ``SecurityScheme``.

    Example:
        ``key: Annotated[str, Depends(APIKeyHeader("X-API-Key"))]``
    """

    location = "header"
    where = "{!r} header"

    def _read(self, connection: HTTPConnection) -> str | None:
        return connection.headers.get(self.name)


class APIKeyQuery(_APIKey):
    """An API key in a query parameter: the key, as a ``str``.

    Args:
        name: The query parameter, such as ``"api_key"``.
        scheme_name, description, auto_error: As for ``SecurityScheme``.
    """

    location = "query"
    where = "{!r} query parameter"

    def _read(self, connection: HTTPConnection) -> str | None:
        return connection.query_params.get(self.name)


class APIKeyCookie(_APIKey):
    """An API key in a cookie: the key, as a ``str``.

    Args:
        name: The cookie, such as ``"session"``.
        scheme_name, description, auto_error: As for ``SecurityScheme``.
    """

    location = "cookie"
    where = "{!r} cookie"

    def _read(self, connection: HTTPConnection) -> str | None:
        return connection.cookies.get(self.name)
