"""A security battery to point at any served carboy app.

Usage::

    python -m tests.security.battery http://127.0.0.1:8000 \\
        --cookie session=<a signed-in admin's session cookie> \\
        --page /admin/ --page /admin/mysite_note/add/ --page /auth/login --page /docs

The routes come from the app's ``/openapi.json`` when it has one (each path
with its methods, path parameters filled with plausible values), and from
each ``--page``. ``--cookie NAME=VALUE`` and ``--header "Name: value"`` are
sent with every request but the "signed out" ones, so that the pages of a
signed-in user are probed too. Each failure is one line on the standard
output, ``FAIL <check> <method> <url>: <what was seen>``, and the exit status
is 1 when there is any (2 when the app cannot be reached).

The checks (``--check NAME`` runs only the ones named):

``head``
    HEAD with a form body and no CSRF token, on every route: never a 5xx;
    the status of GET (or 405 with ``Allow`` where GET is not served); the
    ``Content-Type``, ``Cache-Control``, ``Content-Security-Policy`` (nonce
    aside), ``Location`` and framing headers of GET; no body.
``bad-bytes``
    NUL, invalid UTF-8 and a lone surrogate in path segments, query values,
    header values, cookie values, form values and JSON strings. Where the app
    reads the value (a path, a declared parameter, a form field, a JSON body,
    the Host header) the answer must be a 4xx; anywhere else, never a 5xx.
``header-limits``
    A 1 MB header, 10,000 headers and 200 KB of headers: 431 or 400, or the
    connection closed; never anything else.
``origin-null``
    A POST of each same-origin form of the pages, with ``Origin: null``, the
    session's cookies and the form's own CSRF token: 403.
``headers``
    HTML has a CSP with ``default-src``, ``object-src 'none'`` and
    ``frame-ancestors``, ``nosniff``, ``X-Frame-Options`` and
    ``Referrer-Policy``; JSON has a JSON type and ``nosniff``; a page with a
    CSRF token, or whose answer depends on the credentials, has
    ``Cache-Control: no-store``; no ``Server`` header names the software.
``error-keep-alive``
    For each ``--error-page`` (a route known to fail): a 5xx answer, and the
    connection either announced as closing or still serving the next request.

The battery only sends requests that a correct app refuses or that change
nothing (GET, HEAD), so that comparing the database before and after it
shows what a hole let through. The Origin check posts a form's hidden
fields alone; do not give it pages whose forms act without any other field
(a delete confirmation, a sign-out).
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import socket
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode, urlsplit

import httpx

from tests.security import _raw
from tests.security._discovery import (
    Form,
    Operation,
    Schemas,
    carries_token,
    fill_path,
    forms_in,
    operations,
    plausible_path_values,
    replaced,
    same_origin,
    string_leaves,
)

CHECKS = ("headers", "head", "origin-null", "bad-bytes", "header-limits", "error-keep-alive")

# The headers a HEAD answer must share with the GET answer.
HEAD_MATCHES = (
    "content-type",
    "cache-control",
    "content-security-policy",
    "location",
    "x-content-type-options",
    "x-frame-options",
    "referrer-policy",
)
# Named in a Server header, these tell an attacker what to look up.
SERVER_SOFTWARE = re.compile(
    r"\d|uvicorn|granian|hypercorn|gunicorn|daphne|python|carboy|starlette|h11|httptools",
    re.IGNORECASE,
)
GENERIC_FORM = (
    ("title", "battery"),
    ("name", "battery"),
    ("email", "battery@example.com"),
    ("body", "battery"),
)
MARK = "BATTERY_BAD_VALUE_3f9c1e"


@dataclass(frozen=True)
class Bad:
    """A value no app should take as text: its label and its bytes."""

    label: str
    raw: bytes

    @property
    def percent(self) -> str:
        """Return the bytes percent-encoded, as in a URL or a form body."""
        return "".join(f"%{byte:02x}" for byte in self.raw)


BAD_BYTES = (
    Bad("NUL", b"\x00"),
    Bad("invalid UTF-8 \\xff", b"\xff"),
    Bad("invalid UTF-8 \\xc3\\x28", b"\xc3\x28"),
    Bad("a lone surrogate \\xed\\xa0\\x80", b"\xed\xa0\x80"),
)
# What goes between the quotes of a JSON string: escapes JSON allows but that
# are no text (U+0000 and a lone surrogate), and raw bytes that are no UTF-8.
BAD_JSON = (
    Bad("\\u0000", b"\\u0000"),
    Bad("\\ud800", b"\\ud800"),
    Bad("a raw NUL", b"\x00"),
    Bad("raw \\xff", b"\xff"),
    Bad("raw \\xc3\\x28", b"\xc3\x28"),
    Bad("raw \\xed\\xa0\\x80", b"\xed\xa0\x80"),
)


@dataclass(frozen=True)
class Failure:
    """One thing the app did wrong, printed as one line."""

    check: str
    method: str
    url: str
    seen: str

    def __str__(self) -> str:
        return f"FAIL {self.check} {self.method} {self.url}: {self.seen}"


@dataclass(frozen=True)
class Config:
    """What the battery is pointed at, and with which credentials."""

    base_url: str
    cookies: dict[str, str] = field(default_factory=dict)
    headers: tuple[tuple[str, str], ...] = ()
    pages: tuple[str, ...] = ()
    error_pages: tuple[str, ...] = ()
    checks: frozenset[str] = frozenset(CHECKS)
    timeout: float = 10.0


@dataclass
class Target:
    """A concrete path of the app, the methods it serves, and its answers to GET."""

    path: str
    methods: set[str] = field(default_factory=set)
    operations: list[Operation] = field(default_factory=list)
    template: str | None = None
    response: httpx.Response | None = None
    anonymous: httpx.Response | None = None


class Unreachable(Exception):
    """The app did not answer at all."""


class Battery:
    """Run the checks against one served app and collect the failures."""

    def __init__(self, config: Config) -> None:
        split = urlsplit(config.base_url)
        if split.scheme not in ("http", "https") or not split.hostname:
            raise ValueError(f"{config.base_url!r} is not an http:// or https:// URL.")
        self.config = config
        self.base = f"{split.scheme}://{split.netloc}"
        self.host = split.netloc
        self.address = (split.hostname, split.port or (443 if split.scheme == "https" else 80))
        self.cookies = dict(config.cookies)
        self.failures: list[Failure] = []
        self.requests = 0
        self.client = httpx.Client(follow_redirects=False, timeout=config.timeout)
        self.schemas = Schemas({})
        self.targets: dict[str, Target] = {}
        self.forms: list[tuple[str, Form]] = []

    # Running -----------------------------------------------------------------------------------

    def run(self) -> list[Failure]:
        """Discover the routes, run every selected check, and return the failures."""
        try:
            self.discover()
            for name in CHECKS:
                if name in self.config.checks:
                    getattr(self, "check_" + name.replace("-", "_"))()
        finally:
            self.client.close()
        return self.failures

    def discover(self) -> None:
        """Read the OpenAPI document and the pages; GET each route, with and without credentials."""
        try:
            document = self.client.get(self.base + "/openapi.json", headers=self._headers())
        except httpx.TransportError as exc:
            raise Unreachable(f"{self.base} did not answer: {exc}") from exc
        self.requests += 1
        found: list[Operation] = []
        if document.status_code == 200 and "json" in document.headers.get("content-type", ""):
            try:
                self.schemas = Schemas(document.json())
                found = operations(self.schemas.document)
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                self.fail("discover", "GET", "/openapi.json", f"an unreadable document: {exc!r}")
        for operation in found:
            path = fill_path(operation.path, plausible_path_values(operation, self.schemas))
            required = self._plausible_query(operation, required_only=True)
            if required:
                path += "?" + urlencode(required)
            target = self.targets.setdefault(path, Target(path, template=operation.path))
            target.methods.add(operation.method)
            target.operations.append(operation)
        for page in self.config.pages:
            self.targets.setdefault(page, Target(page)).methods.add("GET")
        signed_in = bool(self.config.cookies or self.config.headers)
        for target in self.targets.values():
            if "GET" not in target.methods:
                continue
            target.response = self.fetch("GET", target.path)
            if signed_in:
                target.anonymous = self.fetch("GET", target.path, anonymous=True)
            if target.response is not None and _is_html(target.response):
                for form in forms_in(target.response.text, self.base + target.path):
                    known = {each.action for _, each in self.forms}
                    if (
                        form.method == "POST"
                        and same_origin(form.action, self.base)
                        and form.action not in known
                    ):
                        self.forms.append((target.path, form))

    # Requests ----------------------------------------------------------------------------------

    def _headers(self, *, anonymous: bool = False) -> dict[str, str]:
        headers = {} if anonymous else dict(self.config.headers)
        if self.cookies and not anonymous:
            headers["Cookie"] = self.cookie_header()
        return headers

    def cookie_header(self) -> str:
        """Return the ``Cookie`` header of the battery's current cookies."""
        return "; ".join(f"{name}={value}" for name, value in self.cookies.items())

    def fetch(
        self,
        method: str,
        path: str,
        *,
        anonymous: bool = False,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        remember: bool = True,
        check: str = "discover",
    ) -> httpx.Response | None:
        """Send a well-formed request with httpx; a transport error is a failure of ``check``."""
        sent = {**self._headers(anonymous=anonymous), **(headers or {})}
        self.requests += 1
        try:
            response = self.client.request(method, self.base + path, headers=sent, content=content)
        except httpx.TransportError as exc:
            self.fail(check, method, path, f"no answer: {type(exc).__name__} {exc}")
            return None
        finally:
            self.client.cookies.clear()
        if remember and not anonymous:
            self._remember(response)
        return response

    def _remember(self, response: httpx.Response) -> None:
        for line in response.headers.get_list("set-cookie"):
            pair, _, attributes = line.partition(";")
            name, _, value = pair.strip().partition("=")
            gone = re.search(r"max-age\s*=\s*(0|-\d+)", attributes, re.IGNORECASE) or (
                re.search(r"expires\s*=[^;]*19[0-9]{2}", attributes, re.IGNORECASE)
            )
            if gone:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value

    def raw(
        self,
        method: str,
        target: bytes,
        headers: Sequence[_raw.Header] = (),
        body: bytes = b"",
        *,
        credentials: bool = True,
    ) -> _raw.RawResponse:
        """Send a request byte for byte on a new connection, with the credentials unless told."""
        sent: list[_raw.Header] = []
        names = {name.lower() for name, _ in headers}
        if credentials:
            sent.extend(
                (name, value.encode("latin-1"))
                for name, value in self.config.headers
                if name.lower() not in names
            )
            if self.cookies and "cookie" not in names:
                sent.append(("Cookie", self.cookie_header().encode("latin-1")))
        sent.extend(headers)
        self.requests += 1
        data = _raw.request_bytes(method, target, self.host, sent, body)
        return _raw.send(self.address, data, method, self.config.timeout)

    def fail(self, check: str, method: str, where: str | bytes, seen: str) -> None:
        """Record a failure; ``where`` is a path (or raw target) of the app, or a URL."""
        if isinstance(where, bytes):
            where = where.decode("ascii", "backslashreplace")
        url = self.base + where if where.startswith("/") else where
        failure = Failure(check, method, url, seen)
        if failure not in self.failures:
            self.failures.append(failure)

    def _get_targets(self) -> list[Target]:
        return [target for target in self.targets.values() if "GET" in target.methods]

    def _plausible_query(self, operation: Operation, *, required_only: bool) -> dict[str, str]:
        return {
            parameter.name: str(self.schemas.plausible(parameter.schema, parameter.name))
            for parameter in operation.parameters
            if parameter.location == "query" and (parameter.required or not required_only)
        }

    def _plausible_body(self, operation: Operation) -> tuple[bytes | None, dict[str, str]]:
        """Return a body the operation would accept, and its Content-Type header."""
        if operation.body_schema is None:
            return None, {}
        value = self.schemas.plausible(operation.body_schema)
        if operation.body_kind == "json":
            return json.dumps(value).encode(), {"Content-Type": "application/json"}
        pairs = value.items() if isinstance(value, dict) else []
        return urlencode([(key, str(item)) for key, item in pairs]).encode(), {
            "Content-Type": "application/x-www-form-urlencoded"
        }

    def _operation_request(
        self, operation: Operation, path_values: dict[str, str], query: dict[str, str]
    ) -> tuple[str, bytes | None, dict[str, str]]:
        path = fill_path(operation.path, path_values)
        if query:
            path += "?" + "&".join(f"{quote(key, safe='')}={value}" for key, value in query.items())
        body, headers = self._plausible_body(operation)
        return path, body, headers

    # headers -----------------------------------------------------------------------------------

    def check_headers(self) -> None:
        """Check the security headers of every answer to GET, signed in and signed out."""
        servers: set[str] = set()
        for target in self._get_targets():
            for response, who in ((target.response, ""), (target.anonymous, "signed out, ")):
                if response is None:
                    continue
                server = response.headers.get("server")
                if server is not None and SERVER_SOFTWARE.search(server) and server not in servers:
                    servers.add(server)
                    self.fail(
                        "headers", "GET", target.path, f"Server: {server!r} names the software"
                    )
                for problem in self._document_problems(response, target):
                    self.fail("headers", "GET", target.path, who + problem)
            if (
                target.response is not None
                and target.anonymous is not None
                and _depends_on_credentials(target.response, target.anonymous)
                and "no-store" not in _cache_control(target.response)
            ):
                self.fail(
                    "headers",
                    "GET",
                    target.path,
                    f"the answer depends on the credentials ({target.response.status_code} "
                    f"signed in, {target.anonymous.status_code} signed out), but Cache-Control is "
                    f"{target.response.headers.get('cache-control')!r}, not no-store",
                )

    def _document_problems(self, response: httpx.Response, target: Target) -> list[str]:
        problems: list[str] = []
        content_type = response.headers.get("content-type", "")
        nosniff = response.headers.get("x-content-type-options", "").strip().lower() == "nosniff"
        status = str(response.status_code)
        documented_json = any(status in each.json_statuses for each in target.operations)
        if _is_html(response):
            problems.extend(_csp_problems(response.headers.get("content-security-policy")))
            if not nosniff:
                problems.append("HTML without X-Content-Type-Options: nosniff")
            if response.headers.get("x-frame-options", "").upper() not in ("DENY", "SAMEORIGIN"):
                problems.append(
                    "HTML without X-Frame-Options DENY or SAMEORIGIN "
                    f"(it is {response.headers.get('x-frame-options')!r})"
                )
            referrer = response.headers.get("referrer-policy")
            if referrer is None or "unsafe-url" in referrer:
                problems.append(f"HTML with Referrer-Policy {referrer!r}")
            if carries_token(response.text) and "no-store" not in _cache_control(response):
                problems.append(
                    "a page with a CSRF token has Cache-Control "
                    f"{response.headers.get('cache-control')!r}, not no-store"
                )
        elif _looks_json(response) or (documented_json and response.content):
            if not re.fullmatch(
                r"application/([\w.-]+\+)?json", content_type.split(";")[0].strip()
            ):
                problems.append(f"JSON served as {content_type!r}")
            if not nosniff:
                problems.append("JSON without X-Content-Type-Options: nosniff")
        return problems

    # head --------------------------------------------------------------------------------------

    def check_head(self) -> None:
        """Send HEAD with a form body and no token to every route, and compare it with GET."""
        for target in self.targets.values():
            body = self._head_form_body(target).encode()
            form_header = ("Content-Type", b"application/x-www-form-urlencoded")
            path = target.path.encode("latin-1")
            if "GET" not in target.methods:
                head = self.raw("HEAD", path, [form_header], body)
                if head.status != 405:
                    self.fail("head", "HEAD", target.path, head.describe() + " (expected 405)")
                elif head.header("allow") is None:
                    self.fail("head", "HEAD", target.path, "answered 405 without an Allow header")
                if head.body:
                    self.fail(
                        "head",
                        "HEAD",
                        target.path,
                        f"sent a body of {len(head.body)} bytes after it",
                    )
                continue
            get = self.fetch("GET", target.path, remember=False, check="head")
            head = self.raw("HEAD", path, [form_header], body)
            if get is None:
                continue
            if head.status is None or head.status >= 500:
                self.fail("head", "HEAD", target.path, head.describe() + " to a form body")
                continue
            if head.status != get.status_code:
                self.fail(
                    "head",
                    "HEAD",
                    target.path,
                    f"answered {head.status}, and GET answered {get.status_code}",
                )
            for name in HEAD_MATCHES:
                got, wanted = head.header(name), get.headers.get(name)
                if _without_nonce(got) != _without_nonce(wanted):
                    self.fail(
                        "head", "HEAD", target.path, f"{name} is {got!r}, and GET's is {wanted!r}"
                    )
            if head.body:
                self.fail(
                    "head", "HEAD", target.path, f"sent a body of {len(head.body)} bytes after it"
                )

    def _head_form_body(self, target: Target) -> str:
        pairs = dict(GENERIC_FORM)
        for _, form in self.forms:
            if urlsplit(form.action).path == urlsplit(target.path).path:
                pairs.update(form.plausible(with_token=False))
        return urlencode(list(pairs.items()))

    # origin-null -------------------------------------------------------------------------------

    def check_origin_null(self) -> None:
        """POST each form's hidden fields and CSRF token with ``Origin: null``: 403."""
        for page, form in self.forms:
            fresh = self._fresh_form(page, form)
            hidden = [(each.name, each.value) for each in fresh.fields if each.kind == "hidden"]
            if fresh.token is None:
                hidden.append(("csrf_token", secrets.token_hex(64)))
            body, content_type = _encode_form(hidden, fresh.enctype)
            action = _path_of(fresh.action)
            response = self.fetch(
                "POST",
                action,
                headers={"Origin": "null", "Content-Type": content_type},
                content=body,
                remember=False,
                check="origin-null",
            )
            if response is not None and response.status_code != 403:
                self.fail(
                    "origin-null",
                    "POST",
                    action,
                    f"answered {response.status_code} to Origin: null with the session's cookies "
                    "and the form's CSRF token (expected 403)",
                )

    def _fresh_form(self, page: str, form: Form) -> Form:
        """GET the form's page again, for a token that goes with the current cookies."""
        response = self.fetch("GET", page)
        if response is None:
            return form
        for each in forms_in(response.text, self.base + page):
            if each.action == form.action and each.method == form.method:
                return each
        return form

    # bad-bytes ---------------------------------------------------------------------------------

    def check_bad_bytes(self) -> None:
        """Put bad bytes in every kind of input; a 4xx where the app reads them, never a 5xx."""
        for target in self._get_targets():
            self._bad_path_segment(target)
            self._bad_query_undeclared(target)
            self._bad_header_and_cookie(target)
        for target in self.targets.values():
            for operation in target.operations:
                self._bad_operation(operation)
        for page, form in self.forms:
            self._bad_form(page, form)

    def _expect(
        self,
        method: str,
        where: str | bytes,
        what: str,
        status: int | None,
        described: str,
        *,
        read: bool,
    ) -> None:
        """Fail on a 5xx or no answer; where the app reads the value, on anything but a 4xx."""
        if status is None or status >= 500:
            self.fail("bad-bytes", method, where, f"{described} to {what}")
        elif read and not 400 <= status < 500:
            self.fail("bad-bytes", method, where, f"{described} to {what} (expected a 4xx)")

    def _bad_path_segment(self, target: Target) -> None:
        """Bad bytes as a segment added to the path, and in place of its last segment."""
        path, _, query = target.path.partition("?")
        head, _, last = path.rstrip("/").rpartition("/")
        trailing = b"/" if path.endswith("/") else b""
        for bad in BAD_BYTES:
            for encoded in (bad.percent.encode(), bad.raw):
                shapes = [("an added path segment", path.rstrip("/").encode() + b"/" + encoded)]
                if last:
                    shapes.append(("the last path segment", head.encode() + b"/" + encoded))
                for shape, where in shapes:
                    where += trailing + (b"?" + query.encode() if query else b"")
                    self._bad_target(where, f"{bad.label} in {shape}", raw=encoded == bad.raw)

    def _bad_target(self, where: bytes, label: str, *, raw: bool) -> None:
        """GET a target holding bad bytes: raw ones on a socket, percent-encoded ones with httpx."""
        if raw:
            answer = self.raw("GET", where)
            label += " (raw bytes in the request line)"
            self._expect("GET", where, label, answer.status, answer.describe(), read=True)
            return
        response = self.fetch("GET", where.decode(), remember=False, check="bad-bytes")
        if response is not None:
            status = response.status_code
            self._expect("GET", where, label, status, f"answered {status}", read=True)

    def _bad_query_undeclared(self, target: Target) -> None:
        joiner = "&" if "?" in target.path else "?"
        for bad in BAD_BYTES:
            where = f"{target.path}{joiner}battery={bad.percent}"
            response = self.fetch("GET", where, remember=False, check="bad-bytes")
            if response is not None:
                self._expect(
                    "GET",
                    where,
                    f"{bad.label} in an undeclared query value",
                    response.status_code,
                    f"answered {response.status_code}",
                    read=False,
                )
            raw_where = target.path.encode() + joiner.encode() + b"battery=" + bad.raw
            raw = self.raw("GET", raw_where)
            self._expect(
                "GET",
                raw_where,
                f"{bad.label} as raw bytes in an undeclared query value",
                raw.status,
                raw.describe(),
                read=False,
            )

    def _bad_header_and_cookie(self, target: Target) -> None:
        path = target.path.encode()
        for bad in BAD_BYTES:
            host = self.raw("GET", path, [("Host", self.host.encode() + bad.raw)])
            self._expect(
                "GET",
                path,
                f"{bad.label} in the Host header",
                host.status,
                host.describe(),
                read=True,
            )
            header = self.raw("GET", path, [("X-Battery", b"battery" + bad.raw)])
            self._expect(
                "GET",
                path,
                f"{bad.label} in an undeclared header value",
                header.status,
                header.describe(),
                read=False,
            )
            for name in [*self.cookies, "battery"]:
                for encoded, how in ((bad.raw, "raw"), (bad.percent.encode(), "percent-encoded")):
                    cookies = {key: value.encode("latin-1") for key, value in self.cookies.items()}
                    cookies[name] = encoded
                    line = b"; ".join(key.encode() + b"=" + value for key, value in cookies.items())
                    answer = self.raw("GET", path, [("Cookie", line)])
                    self._expect(
                        "GET",
                        path,
                        f"{bad.label} ({how}) in the value of the cookie {name!r}",
                        answer.status,
                        answer.describe(),
                        read=False,
                    )

    def _bad_operation(self, operation: Operation) -> None:
        """Bad bytes in the path, query, header, cookie and body values the operation declares."""
        method = operation.method
        path_values = plausible_path_values(operation, self.schemas)
        query = {
            key: quote(value, safe="")
            for key, value in self._plausible_query(operation, required_only=True).items()
        }
        for parameter in operation.parameters:
            for bad in BAD_BYTES:
                what = f"{bad.label} in the {parameter.location} parameter {parameter.name!r}"
                if parameter.location in ("path", "query"):
                    values = dict(path_values)
                    asked = dict(query)
                    (values if parameter.location == "path" else asked)[parameter.name] = (
                        bad.percent
                    )
                    path, body, headers = self._operation_request(operation, values, asked)
                    response = self.fetch(
                        method,
                        path,
                        headers=headers,
                        content=body,
                        remember=False,
                        check="bad-bytes",
                    )
                    if response is not None:
                        self._expect(
                            method,
                            path,
                            what,
                            response.status_code,
                            f"answered {response.status_code}",
                            read=True,
                        )
                elif parameter.location in ("header", "cookie"):
                    self._bad_declared_header(
                        operation, path_values, query, parameter.name, parameter.location, bad
                    )
        for name in operation.required_auth_headers:
            for bad in BAD_BYTES:
                self._bad_declared_header(operation, path_values, query, name, "header", bad)
        if operation.body_kind == "json" and operation.body_schema is not None:
            self._bad_json(operation, path_values, query)
        elif operation.body_kind in ("form", "multipart") and operation.body_schema is not None:
            value = self.schemas.plausible(operation.body_schema)
            pairs = (
                [(key, str(item)) for key, item in value.items()] if isinstance(value, dict) else []
            )
            path, _, _ = self._operation_request(operation, path_values, query)
            enctype = (
                "multipart/form-data"
                if operation.body_kind == "multipart"
                else "application/x-www-form-urlencoded"
            )
            self._bad_form_pairs(
                operation.method, path, pairs, [key for key, _ in pairs], enctype, {}, token=None
            )

    def _bad_declared_header(
        self,
        operation: Operation,
        path_values: dict[str, str],
        query: dict[str, str],
        name: str,
        location: str,
        bad: Bad,
    ) -> None:
        path, body, headers = self._operation_request(operation, path_values, query)
        sent: list[_raw.Header] = [(key, value.encode()) for key, value in headers.items()]
        if location == "cookie":
            cookies = {key: value.encode("latin-1") for key, value in self.cookies.items()}
            cookies[name] = b"battery" + bad.raw
            line = b"; ".join(key.encode() + b"=" + value for key, value in cookies.items())
            sent.append(("Cookie", line))
        else:
            sent.append((name, b"battery" + bad.raw))
        answer = self.raw(operation.method, path.encode(), sent, body or b"")
        self._expect(
            operation.method,
            path,
            f"{bad.label} in the {location} {name!r}",
            answer.status,
            answer.describe(),
            read=True,
        )

    def _bad_json(
        self, operation: Operation, path_values: dict[str, str], query: dict[str, str]
    ) -> None:
        value = self.schemas.plausible(operation.body_schema or {})
        path, _, _ = self._operation_request(operation, path_values, query)
        for trail in string_leaves(value):
            shown = "/".join(str(step) for step in trail) or "the body"
            text = json.dumps(replaced(value, trail, MARK)).encode()
            for bad in BAD_JSON:
                body = text.replace(f'"{MARK}"'.encode(), b'"' + bad.raw + b'"')
                response = self.fetch(
                    operation.method,
                    path,
                    headers={"Content-Type": "application/json"},
                    content=body,
                    remember=False,
                    check="bad-bytes",
                )
                if response is not None:
                    self._expect(
                        operation.method,
                        path,
                        f"{bad.label} in the JSON string {shown}",
                        response.status_code,
                        f"answered {response.status_code}",
                        read=True,
                    )

    def _bad_form(self, page: str, form: Form) -> None:
        fresh = self._fresh_form(page, form)
        action = _path_of(fresh.action)
        names = fresh.injectable()
        headers = {"Origin": self.base, "Referer": self.base + page}
        for with_token in (False, True):
            pairs = fresh.plausible(with_token=with_token)
            token = fresh.token if with_token else None
            self._bad_form_pairs("POST", action, pairs, names, fresh.enctype, headers, token=token)

    def _bad_form_pairs(
        self,
        method: str,
        path: str,
        pairs: list[tuple[str, str]],
        names: Iterable[str],
        enctype: str,
        headers: dict[str, str],
        *,
        token: tuple[str, str] | None,
    ) -> None:
        """Post ``pairs`` once per name and bad value, that field holding the bad value."""
        for name in names:
            for bad in BAD_BYTES:
                body, content_type = _encode_form(pairs, enctype, bad=(name, bad))
                response = self.fetch(
                    method,
                    path,
                    headers={**headers, "Content-Type": content_type},
                    content=body,
                    remember=False,
                    check="bad-bytes",
                )
                if response is not None:
                    with_token = " with the CSRF token" if token else " without a CSRF token"
                    self._expect(
                        method,
                        path,
                        f"{bad.label} in the form field {name!r}{with_token}",
                        response.status_code,
                        f"answered {response.status_code}",
                        read=True,
                    )

    # header-limits -----------------------------------------------------------------------------

    def check_header_limits(self) -> None:
        """Send a 1 MB header, 10,000 headers and 200 KB of headers: 431 or 400, or a close."""
        answering = (
            target.path
            for target in self._get_targets()
            if target.response is not None and target.response.status_code == 200
        )
        path = next(answering, "/").encode()
        cases: list[tuple[str, list[_raw.Header]]] = [
            ("a 1 MB header value", [("X-Battery", b"a" * 1_048_576)]),
            ("10,000 headers", [(f"X-Battery-{index}", b"x") for index in range(10_000)]),
            # Each under a common one-header limit (8 KB), fewer than a common
            # count limit (100): only the total is over.
            ("200 KB of headers", [(f"X-Battery-{index}", b"b" * 4_000) for index in range(50)]),
        ]
        for what, headers in cases:
            answer = self.raw("GET", path, headers)
            closed = answer.status is None and answer.ending in ("eof", "reset")
            if answer.status in (400, 431) or closed:
                continue
            self.fail(
                "header-limits", "GET", path, f"{answer.describe()} to {what} (expected 431 or 400)"
            )

    # error-keep-alive --------------------------------------------------------------------------

    def check_error_keep_alive(self) -> None:
        """A failing route answers 5xx, and closes a kept-alive connection only by saying so."""
        probe = next((t.path for t in self._get_targets()), "/").encode()
        credentials: list[_raw.Header] = [
            (name, value.encode("latin-1")) for name, value in self.config.headers
        ]
        if self.cookies:
            credentials.append(("Cookie", self.cookie_header().encode("latin-1")))
        for page in self.config.error_pages:
            with socket.create_connection(self.address, timeout=self.config.timeout) as sock:
                self.requests += 2
                first = _raw.exchange(
                    sock,
                    _raw.request_bytes(
                        "GET", page.encode(), self.host, credentials, keep_alive=True
                    ),
                    "GET",
                    self.config.timeout,
                )
                if first.status is None:
                    self.fail("error-keep-alive", "GET", page, first.describe())
                    continue
                if first.status < 500:
                    self.fail(
                        "error-keep-alive",
                        "GET",
                        page,
                        f"answered {first.status}: an --error-page must name a route that fails",
                    )
                    continue
                if "close" in (first.header("connection") or "").lower():
                    continue
                second = _raw.exchange(
                    sock,
                    _raw.request_bytes("GET", probe, self.host, credentials, keep_alive=True),
                    "GET",
                    self.config.timeout,
                )
                if second.status is None:
                    self.fail(
                        "error-keep-alive",
                        "GET",
                        page,
                        f"answered {first.status} without Connection: close, then "
                        f"{second.describe()} on the next request of the connection",
                    )


# Helpers -----------------------------------------------------------------------------------------


def _is_html(response: httpx.Response) -> bool:
    return "text/html" in response.headers.get("content-type", "") or response.content.lstrip()[
        :15
    ].lower().startswith((b"<!doctype html", b"<html"))


def _looks_json(response: httpx.Response) -> bool:
    if "json" in response.headers.get("content-type", ""):
        return True
    if not response.content.lstrip().startswith((b"{", b"[")):
        return False
    try:
        json.loads(response.content)
    except ValueError:
        return False
    return True


def _cache_control(response: httpx.Response) -> list[str]:
    value = response.headers.get("cache-control", "")
    return [part.strip().lower() for part in value.split(",")]


def _csp_problems(policy: str | None) -> list[str]:
    if policy is None:
        return ["HTML without a Content-Security-Policy"]
    directives: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            directives.setdefault(words[0].lower(), [word.lower() for word in words[1:]])
    problems = []
    shown = f"Content-Security-Policy {policy!r}"
    if "default-src" not in directives:
        problems.append(f"{shown} has no default-src")
    objects = directives.get("object-src", directives.get("default-src"))
    if objects != ["'none'"]:
        problems.append(f"{shown} does not make object-src 'none'")
    ancestors = directives.get("frame-ancestors")
    if ancestors is None:
        problems.append(f"{shown} has no frame-ancestors")
    elif "*" in ancestors:
        problems.append(f"{shown} lets any site frame the page")
    return problems


def _without_nonce(value: str | None) -> str | None:
    return None if value is None else re.sub(r"'nonce-[^']*'", "'nonce-*'", value)


def _normalized(response: httpx.Response) -> bytes:
    """The body with tokens and nonces blanked, to tell pages that differ by user."""
    body = re.sub(rb"[0-9a-fA-F]{32,}", b"TOKEN", response.content)
    return re.sub(rb"nonce[=-]\"?[A-Za-z0-9_+/=-]+", b"nonce", body)


def _depends_on_credentials(signed_in: httpx.Response, signed_out: httpx.Response) -> bool:
    return signed_in.status_code != signed_out.status_code or _normalized(signed_in) != _normalized(
        signed_out
    )


def _path_of(url: str) -> str:
    split = urlsplit(url)
    return split.path + (f"?{split.query}" if split.query else "")


def _encode_form(
    pairs: list[tuple[str, str]], enctype: str, bad: tuple[str, Bad] | None = None
) -> tuple[bytes, str]:
    """Encode ``pairs`` as the form's enctype would, the field ``bad[0]`` holding ``bad[1]``."""
    if bad is not None and bad[0] not in dict(pairs):
        pairs = [*pairs, (bad[0], "")]
    if "multipart" in enctype:
        boundary = "battery" + secrets.token_hex(8)
        parts = []
        for name, value in pairs:
            data = bad[1].raw if bad is not None and name == bad[0] else value.encode()
            parts.append(
                f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
                + data
                + b"\r\n"
            )
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        return body, f"multipart/form-data; boundary={boundary}"
    encoded = [
        f"{quote(name, safe='')}="
        + (bad[1].percent if bad is not None and name == bad[0] else quote(value, safe=""))
        for name, value in pairs
    ]
    return "&".join(encoded).encode(), "application/x-www-form-urlencoded"


# The command line --------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.security.battery",
        description="Run the security battery against a served carboy app.",
    )
    parser.add_argument("url", help="the app's base URL, such as http://127.0.0.1:8000")
    parser.add_argument(
        "--cookie",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a cookie to send, such as a signed-in admin's session cookie (repeatable)",
    )
    parser.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a header to send, such as 'Authorization: Token ...' (repeatable)",
    )
    parser.add_argument(
        "--page", action="append", default=[], metavar="PATH", help="a page to probe (repeatable)"
    )
    parser.add_argument(
        "--error-page",
        action="append",
        default=[],
        metavar="PATH",
        help="a route known to fail with a 5xx, for the error-keep-alive check (repeatable)",
    )
    parser.add_argument(
        "--check",
        action="append",
        choices=CHECKS,
        metavar="NAME",
        help=f"run only this check (repeatable): {', '.join(CHECKS)}",
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    return parser


def config_from(argv: Sequence[str]) -> Config:
    """Parse the command line into a ``Config``."""
    parser = _parser()
    args = parser.parse_args(argv)
    cookies = {}
    for each in args.cookie:
        name, equals, value = each.partition("=")
        if not equals or not name:
            parser.error(f"--cookie {each!r} is not NAME=VALUE")
        cookies[name.strip()] = value.strip()
    headers = []
    for each in args.header:
        name, colon, value = each.partition(":")
        if not colon or not name.strip():
            parser.error(f"--header {each!r} is not 'Name: value'")
        headers.append((name.strip(), value.strip()))
    for page in [*args.page, *args.error_page]:
        if not page.startswith("/"):
            parser.error(f"{page!r} is not a path: start it with /")
    return Config(
        base_url=args.url,
        cookies=cookies,
        headers=tuple(headers),
        pages=tuple(args.page),
        error_pages=tuple(args.error_page),
        checks=frozenset(args.check or CHECKS),
        timeout=args.timeout,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the battery from the command line; return the exit status."""
    config = config_from(sys.argv[1:] if argv is None else argv)
    battery = Battery(config)
    try:
        failures = battery.run()
    except Unreachable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for failure in failures:
        print(failure)
    print(
        f"{len(failures)} failures in {battery.requests} requests "
        f"({', '.join(name for name in CHECKS if name in config.checks)})",
        file=sys.stderr,
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
