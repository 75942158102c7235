from __future__ import annotations

from typing import Any

import httpx
import pytest

from carboy.exceptions import ImproperlyConfigured
from carboy.middleware.cors import CORSMiddleware
from carboy.types import Message, Receive, Scope, Send

SITE = "https://app.example.com"


async def hello_app(scope: Scope, receive: Receive, send: Send) -> None:
    headers = [
        (b"content-type", b"text/plain"),
        (b"x-request-id", b"42"),
        (b"set-cookie", b"session=abc"),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": scope["method"].encode()})


async def request(
    method: str, headers: dict[str, str] | None = None, **options: Any
) -> httpx.Response:
    transport = httpx.ASGITransport(app=CORSMiddleware(hello_app, **options))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        return await client.request(method, "/", headers=headers)


async def preflight(
    origin: str = SITE,
    method: str = "POST",
    request_headers: str | None = None,
    **options: Any,
) -> httpx.Response:
    headers = {"origin": origin, "access-control-request-method": method}
    if request_headers is not None:
        headers["access-control-request-headers"] = request_headers
    return await request("OPTIONS", headers, **options)


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {
        name: value
        for name, value in response.headers.items()
        if name.startswith("access-control-") or name == "vary"
    }


@pytest.mark.anyio
async def test_a_request_without_origin_passes_through_untouched() -> None:
    response = await request("GET", allow_origins=[SITE])

    assert response.status_code == 200
    assert response.content == b"GET"
    assert cors_headers(response) == {}


@pytest.mark.anyio
async def test_a_request_from_an_allowed_origin_gets_that_origin_back() -> None:
    response = await request("GET", {"origin": SITE}, allow_origins=[SITE])

    assert response.status_code == 200
    assert response.content == b"GET"
    assert cors_headers(response) == {"access-control-allow-origin": SITE, "vary": "Origin"}


@pytest.mark.anyio
async def test_origins_compare_case_insensitively_and_the_request_origin_is_echoed() -> None:
    response = await request(
        "GET", {"origin": "https://APP.example.com"}, allow_origins=["https://app.EXAMPLE.com"]
    )

    assert response.headers["access-control-allow-origin"] == "https://APP.example.com"


@pytest.mark.anyio
@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.com",
        "http://app.example.com",
        "https://app.example.com.evil.com",
        "https://app.example.com:8443",
        "null",
    ],
)
async def test_a_request_from_another_origin_runs_but_gets_no_cors_headers_except_vary(
    origin: str,
) -> None:
    response = await request("POST", {"origin": origin}, allow_origins=[SITE])

    assert response.status_code == 200
    assert response.content == b"POST"
    assert cors_headers(response) == {"vary": "Origin"}


@pytest.mark.anyio
async def test_a_wildcard_origin_answers_star_without_vary() -> None:
    response = await request("GET", {"origin": "https://anyone.net"}, allow_origins=["*"])

    assert cors_headers(response) == {"access-control-allow-origin": "*"}


@pytest.mark.anyio
async def test_a_malformed_origin_is_not_echoed_even_when_any_origin_is_allowed() -> None:
    response = await request(
        "GET", {"origin": "https://a.com\rSet-Cookie: x=1"}, allow_origin_regex=r"https://.*"
    )

    assert response.status_code == 200
    assert cors_headers(response) == {"vary": "Origin"}


@pytest.mark.anyio
async def test_credentials_answer_the_exact_origin_and_allow_credentials() -> None:
    response = await request("GET", {"origin": SITE}, allow_origins=[SITE], allow_credentials=True)

    assert cors_headers(response) == {
        "access-control-allow-origin": SITE,
        "access-control-allow-credentials": "true",
        "vary": "Origin",
    }


@pytest.mark.anyio
async def test_expose_headers_are_listed_on_actual_responses() -> None:
    response = await request(
        "GET", {"origin": SITE}, allow_origins=[SITE], expose_headers=["X-Request-Id", "ETag"]
    )

    assert response.headers["access-control-expose-headers"] == "X-Request-Id, ETag"


@pytest.mark.anyio
async def test_expose_star_with_credentials_lists_the_response_header_names() -> None:
    response = await request(
        "GET",
        {"origin": SITE},
        allow_origins=[SITE],
        allow_credentials=True,
        expose_headers=["*"],
    )

    assert response.headers["access-control-expose-headers"] == "content-type, x-request-id"


@pytest.mark.anyio
async def test_expose_star_without_credentials_is_sent_as_star() -> None:
    response = await request("GET", {"origin": SITE}, allow_origins=[SITE], expose_headers=["*"])

    assert response.headers["access-control-expose-headers"] == "*"


@pytest.mark.anyio
async def test_an_origin_matching_the_regex_in_full_is_allowed() -> None:
    response = await request(
        "GET",
        {"origin": "https://tenant-7.example.com"},
        allow_origin_regex=r"https://.*\.example\.com",
    )

    assert response.headers["access-control-allow-origin"] == "https://tenant-7.example.com"


@pytest.mark.anyio
async def test_an_origin_matching_the_regex_only_in_part_is_refused() -> None:
    response = await preflight(
        "https://tenant.example.com.evil.net", allow_origin_regex=r"https://.*\.example\.com"
    )

    assert response.status_code == 400


@pytest.mark.anyio
async def test_an_allowed_preflight_is_answered_with_204_without_running_the_app() -> None:
    response = await preflight(
        method="PUT",
        request_headers="X-Token, Content-Type",
        allow_origins=[SITE],
        allow_methods=["GET", "put"],
        allow_headers=["X-Token"],
        max_age=3600,
    )

    assert response.status_code == 204
    assert response.content == b""
    assert cors_headers(response) == {
        "access-control-allow-origin": SITE,
        "access-control-allow-methods": "GET, PUT",
        "access-control-allow-headers": (
            "x-token, accept, accept-language, content-language, content-type"
        ),
        "access-control-max-age": "3600",
        "vary": "Origin",
    }


@pytest.mark.anyio
async def test_a_preflight_with_credentials_allowed_says_so() -> None:
    response = await preflight(allow_origins=[SITE], allow_methods=["POST"], allow_credentials=True)

    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == SITE
    assert response.headers["access-control-allow-credentials"] == "true"


@pytest.mark.anyio
async def test_a_wildcard_preflight_echoes_the_requested_method_and_headers() -> None:
    response = await preflight(
        method="PATCH",
        request_headers="x-one,x-two",
        allow_origins=["*"],
        allow_methods=["*"],
        allow_headers=["*"],
    )

    assert response.status_code == 204
    assert cors_headers(response) == {
        "access-control-allow-origin": "*",
        "access-control-allow-methods": "PATCH",
        "access-control-allow-headers": "x-one, x-two",
        "access-control-max-age": "600",
    }


@pytest.mark.anyio
async def test_a_preflight_from_a_disallowed_origin_gets_400_naming_the_origin() -> None:
    response = await preflight("https://evil.com", allow_origins=[SITE], allow_methods=["POST"])

    assert response.status_code == 400
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert cors_headers(response) == {"vary": "Origin"}
    assert response.text == (
        "CORS preflight refused: the origin is not allowed. To allow it, add it to allow_origins."
    )


@pytest.mark.anyio
async def test_a_preflight_for_a_disallowed_method_gets_400_naming_the_method() -> None:
    response = await preflight(method="DELETE", allow_origins=[SITE], allow_methods=["GET", "POST"])

    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers
    assert response.text == (
        "CORS preflight refused: the method is not allowed. To allow it, add it to allow_methods."
    )


@pytest.mark.anyio
async def test_a_preflight_for_a_disallowed_header_gets_400_naming_the_headers() -> None:
    response = await preflight(
        request_headers="content-type, x-secret", allow_origins=[SITE], allow_methods=["POST"]
    )

    assert response.status_code == 400
    assert response.text == (
        "CORS preflight refused: the request headers are not allowed. "
        "To allow them, add them to allow_headers."
    )


@pytest.mark.anyio
async def test_a_preflight_refused_on_every_count_names_them_all() -> None:
    response = await preflight(
        "https://evil.com", method="DELETE", request_headers="x-secret", allow_origins=[SITE]
    )

    assert response.status_code == 400
    assert response.text == (
        "CORS preflight refused: the origin, the method and the request headers are not "
        "allowed. To allow them, add them to allow_origins, allow_methods and allow_headers."
    )


@pytest.mark.anyio
async def test_a_preflight_never_echoes_a_method_or_header_that_is_not_a_token() -> None:
    response = await preflight(
        method="GET\rX",
        request_headers="x-ok, bad header",
        allow_origins=["*"],
        allow_methods=["*"],
        allow_headers=["*"],
    )

    assert response.status_code == 400
    assert response.text == (
        "CORS preflight refused: the method and the request headers are not allowed. "
        "To allow them, add them to allow_methods and allow_headers."
    )


@pytest.mark.anyio
async def test_an_options_request_without_access_control_request_method_reaches_the_app() -> None:
    response = await request("OPTIONS", {"origin": SITE}, allow_origins=[SITE])

    assert response.status_code == 200
    assert response.content == b"OPTIONS"
    assert response.headers["access-control-allow-origin"] == SITE


@pytest.mark.anyio
async def test_a_websocket_scope_passes_through_untouched() -> None:
    seen: list[Scope] = []

    async def websocket_app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope)

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        pass

    scope: Scope = {"type": "websocket", "headers": [(b"origin", b"https://evil.com")]}

    await CORSMiddleware(websocket_app, allow_origins=[SITE])(scope, receive, send)

    assert seen == [scope]


def test_a_wildcard_origin_with_credentials_is_refused_at_construction() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        CORSMiddleware(hello_app, allow_origins=["*"], allow_credentials=True)

    assert str(caught.value) == (
        "allow_origins=['*'] with allow_credentials=True would let any site read responses "
        "made with a visitor's cookies, which browsers forbid. List the origins that may "
        "send credentials in allow_origins, or set allow_credentials=False."
    )


@pytest.mark.parametrize(
    "origin",
    [
        "https://app.example.com/",
        "https://app.example.com/api",
        "app.example.com",
        "https://u@a.com",
    ],
)
def test_an_origin_setting_with_a_path_or_without_a_scheme_is_refused(origin: str) -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        CORSMiddleware(hello_app, allow_origins=[origin])

    assert str(caught.value) == (
        f"allow_origins holds {origin!r}, which is not an origin. An origin is a scheme, a "
        "host and an optional port, such as 'https://example.com' or "
        "'http://localhost:8000', with no path, not even a trailing '/'."
    )


def test_a_string_for_a_list_setting_is_refused_at_construction() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        CORSMiddleware(hello_app, allow_origins=SITE)

    assert str(caught.value) == (
        "allow_origins is a string, so each of its characters would be read as an entry. "
        "Pass a list: allow_origins=['https://app.example.com']."
    )


def test_a_regex_that_does_not_compile_is_refused_at_construction() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        CORSMiddleware(hello_app, allow_origin_regex="https://(")

    assert str(caught.value) == (
        "allow_origin_regex does not compile: missing ), unterminated subpattern at "
        "position 8. Fix the expression; it must match a whole origin, such as "
        r"r'https://.*\.example\.com'."
    )


def test_a_negative_max_age_is_refused_at_construction() -> None:
    with pytest.raises(ImproperlyConfigured) as caught:
        CORSMiddleware(hello_app, allow_origins=[SITE], max_age=-1)

    assert str(caught.value) == (
        "max_age is -1, but a number of seconds cannot be negative. "
        "Pass 0 to have browsers ask before every request."
    )
