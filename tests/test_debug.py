from __future__ import annotations

import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from carboy import Carboy
from carboy.config import Settings
from carboy.datastructures import Headers
from carboy.debug import MASK, debug_response, is_secret_name
from carboy.testing import TestClient
from carboy.types import Scope

SOURCE = Path(__file__).read_text(encoding="utf-8").splitlines()
BROWSER = (b"accept", b"text/html,application/xhtml+xml,*/*;q=0.8")
# Built at run time, so that the secret is never a literal in the source lines
# the page shows around a frame.
SECRET = "hun" + "ter2"


@dataclass
class Credentials:
    user: str
    password: str


class Pair(NamedTuple):
    user: str
    api_key: str


def line_of(text: str) -> int:
    """Return the number of this file's only line that contains ``text``."""
    (number,) = [number for number, line in enumerate(SOURCE, 1) if line.endswith(text)]
    return number


def keep(*values: object) -> None:
    """Use local variables, which the page is to show, without changing them."""


def log_in(username: str) -> None:
    password = SECRET
    api_key = SECRET
    secret_key = SECRET
    access_token = SECRET
    attempts = 3
    form = {"username": username, "Password": SECRET, "remember": True}
    account = Credentials(username, SECRET)
    pair = Pair(username, SECRET)
    raw_headers = [(b"host", b"example.com"), (b"authorization", f"Bearer {SECRET}".encode())]
    headers = Headers({"x-trace": "t-1", "cookie": f"session={SECRET}"})
    long_text = "x" * 1000
    keep(password, api_key, secret_key, access_token, form, account, pair, raw_headers)
    keep(headers, long_text)
    raise LookupError(f"No account for {username!r} after {attempts} attempts")  # the failing line


def caused() -> None:
    try:
        {}["missing"]  # the first error
    except KeyError as exc:
        raise RuntimeError("Loading the profile failed") from exc


def call(function: Callable[..., None], *args: Any) -> None:
    function(*args)  # the calling line


def raised(function: Callable[..., None], *args: Any) -> BaseException:
    try:
        function(*args)
    except BaseException as exc:
        return exc
    raise AssertionError("the function did not raise")


def http_scope(headers: Sequence[tuple[bytes, bytes]] = (BROWSER,), query: bytes = b"") -> Scope:
    return {
        "type": "http",
        "method": "POST",
        "scheme": "https",
        "path": "/login",
        "query_string": query,
        "headers": [(b"host", b"example.com"), *headers],
        "client": ("203.0.113.7", 51234),
        "server": ("10.0.0.1", 443),
    }


def page(exc: BaseException, scope: Scope | None = None) -> str:
    response = debug_response(scope or http_scope(), exc)
    assert response.status_code == 500
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    return response.body.decode()


# The page ---------------------------------------------------------------------


def test_a_browser_gets_an_html_page_that_is_never_cached() -> None:
    response = debug_response(http_scope(), raised(log_in, "ada"))

    assert response.status_code == 500
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert response.body.startswith(b'<!doctype html>\n<html lang="en">\n')


def test_the_page_loads_nothing_from_elsewhere_and_runs_no_script() -> None:
    text = page(raised(log_in, "ada"))

    for needle in ("<script", "<link", " src=", "url(", "@import", "http://", "//cdn"):
        assert needle not in text


def test_the_page_heads_with_the_exception_and_where_it_was_raised() -> None:
    text = page(raised(log_in, "ada"))

    assert "<title>LookupError at /login</title>" in text
    assert "<h1>LookupError</h1>" in text
    assert (
        '<p class="message">No account for &#x27;ada&#x27; after 3 attempts</p>\n'
        '<p class="where">POST https://example.com/login, raised in <code>log_in</code>, '
        f"<code>{escape(__file__)}</code>, line {line_of('# the failing line')}</p>"
    ) in text


def test_each_frame_shows_its_file_line_and_function() -> None:
    text = page(raised(call, log_in, "ada"))

    assert (
        f'<p class="location"><code>{escape(__file__)}</code>, '
        f"line {line_of('# the calling line')}, in <code>call</code></p>"
    ) in text
    assert (
        f'<p class="location"><code>{escape(__file__)}</code>, '
        f"line {line_of('# the failing line')}, in <code>log_in</code></p>"
    ) in text
    assert text.index("in <code>call</code></p>") < text.index("in <code>log_in</code></p>")


def test_the_source_around_the_failing_line_is_shown_with_that_line_marked() -> None:
    text = page(raised(log_in, "ada"))
    failing = line_of("# the failing line")

    assert (
        f'<span class="line current"><span class="lineno">{failing}</span>    raise LookupError('
        "f&quot;No account for {username!r} after {attempts} attempts&quot;)  "
        "# the failing line</span>"
    ) in text
    for number in (failing - 5, failing + 1):
        source = escape(SOURCE[number - 1])
        assert f'<span class="line"><span class="lineno">{number}</span>{source}</span>' in text
    assert f'<span class="lineno">{failing - 6}</span>' not in text


def test_local_variables_are_shown_with_their_repr() -> None:
    text = page(raised(log_in, "ada"))

    assert "<tr><th>username</th><td>&#x27;ada&#x27;</td></tr>" in text
    assert "<tr><th>attempts</th><td>3</td></tr>" in text


@pytest.mark.parametrize("name", ["password", "api_key", "secret_key", "access_token"])
def test_locals_named_like_secrets_are_masked(name: str) -> None:
    text = page(raised(log_in, "ada"))

    assert f"<tr><th>{name}</th><td>********************</td></tr>" in text


def test_secrets_inside_dicts_dataclasses_tuples_and_headers_are_masked() -> None:
    text = page(raised(log_in, "ada"))

    assert (
        "<tr><th>form</th><td>{&#x27;username&#x27;: &#x27;ada&#x27;, "
        "&#x27;Password&#x27;: ********************, &#x27;remember&#x27;: True}</td></tr>"
    ) in text
    assert (
        "<tr><th>account</th><td>Credentials(user=&#x27;ada&#x27;, "
        "password=********************)</td></tr>"
    ) in text
    assert (
        "<tr><th>pair</th><td>Pair(user=&#x27;ada&#x27;, api_key=********************)</td></tr>"
    ) in text
    assert (
        "<tr><th>raw_headers</th><td>[(b&#x27;host&#x27;, b&#x27;example.com&#x27;), "
        "(b&#x27;authorization&#x27;, ********************)]</td></tr>"
    ) in text
    assert (
        "<tr><th>headers</th><td>Headers([(&#x27;x-trace&#x27;, &#x27;t-1&#x27;), "
        "(&#x27;cookie&#x27;, ********************)])</td></tr>"
    ) in text


def test_no_secret_value_appears_anywhere_on_the_page() -> None:
    scope = http_scope(
        [
            BROWSER,
            (b"authorization", f"Bearer {SECRET}".encode()),
            (b"cookie", f"session={SECRET}".encode()),
            (b"x-api-key", SECRET.encode()),
        ],
        query=f"token={SECRET}".encode(),
    )

    text = page(raised(log_in, "ada"), scope)

    assert SECRET not in text
    assert MASK in text


def test_a_long_value_is_cut_to_300_characters() -> None:
    text = page(raised(log_in, "ada"))

    shown = "&#x27;" + "x" * 299 + "…"
    assert f"<tr><th>long_text</th><td>{shown}</td></tr>" in text


def test_a_value_whose_repr_fails_is_named_instead() -> None:
    class Broken:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    def fail_with_broken() -> None:
        broken = Broken()
        raise ValueError(str(id(broken)))

    text = page(raised(fail_with_broken))

    assert "<tr><th>broken</th><td>&lt;Broken whose repr() failed: RuntimeError&gt;</td></tr>" in (
        text
    )


def test_the_chain_shows_the_cause_before_the_error_it_caused() -> None:
    text = page(raised(caused))

    cause = text.index("<h3>KeyError: &#x27;missing&#x27;</h3>")
    link = text.index(
        '<p class="link">The above exception was the direct cause of the following exception:</p>'
    )
    error = text.index("<h3>RuntimeError: Loading the profile failed</h3>")
    assert cause < link < error
    assert f'<span class="lineno">{line_of("# the first error")}</span>' in text


def test_the_chain_shows_an_error_raised_while_handling_another() -> None:
    def handle() -> None:
        try:
            raise KeyError("first")
        except KeyError:
            raise ValueError("second")  # noqa: B904 - the implicit context is the subject

    text = page(raised(handle))

    first = text.index("<h3>KeyError: &#x27;first&#x27;</h3>")
    link = text.index(
        '<p class="link">During handling of the above exception, another exception occurred:</p>'
    )
    second = text.index("<h3>ValueError: second</h3>")
    assert first < link < second


def test_a_suppressed_context_is_left_out_as_python_leaves_it_out() -> None:
    def handle() -> None:
        try:
            raise KeyError("hidden")
        except KeyError:
            raise ValueError("shown") from None

    text = page(raised(handle))

    assert "<h3>ValueError: shown</h3>" in text
    assert "<h3>KeyError" not in text


def test_the_exceptions_of_a_group_follow_it() -> None:
    def fail() -> None:
        raise ExceptionGroup("two failures", [KeyError("a"), ValueError("b")])

    text = page(raised(fail))

    group = text.index("<h3>ExceptionGroup: two failures (2 sub-exceptions)</h3>")
    first = text.index('<p class="link">Exception 1 of 2 in the group above:</p>')
    key_error = text.index("<h3>KeyError: &#x27;a&#x27;</h3>")
    second = text.index('<p class="link">Exception 2 of 2 in the group above:</p>')
    value_error = text.index("<h3>ValueError: b</h3>")
    assert group < first < key_error < second < value_error


def test_html_in_the_exception_message_is_escaped() -> None:
    def fail() -> None:
        raise ValueError("<script>alert('x')</script> & more")

    text = page(raised(fail))

    assert "<script>" not in text
    assert (
        '<p class="message">&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more</p>'
    ) in text
    assert (
        "<h3>ValueError: &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; more</h3>"
    ) in text


def test_the_plain_traceback_is_on_the_page_to_copy() -> None:
    exc = raised(caused)

    text = page(exc)

    plain = escape("".join(traceback.format_exception(exc)))
    assert f'<h2>Plain traceback</h2>\n<pre class="plain">{plain}</pre>' in text


# The request ------------------------------------------------------------------


def test_the_request_is_described_with_secret_headers_and_parameters_masked() -> None:
    scope = http_scope(
        [
            BROWSER,
            (b"authorization", b"Basic YWRhOnNlY3JldA=="),
            (b"cookie", b"session=abc; theme=dark"),
            (b"x-api-key", b"k-123"),
            (b"user-agent", b"Mozilla/5.0 <b>"),
        ],
        query=b"page=2&access_token=t-456&q=a+b",
    )

    text = page(raised(log_in, "ada"), scope)

    assert (
        "<h2>Request</h2>\n<table>\n"
        "<tr><th>Method</th><td>POST</td></tr>\n"
        "<tr><th>URL</th><td>https://example.com/login?page=2&amp;access_token="
        "********************&amp;q=a+b</td></tr>\n"
        "<tr><th>Client</th><td>203.0.113.7:51234</td></tr>\n"
        "</table>\n"
        "<h3>Headers</h3>\n<table>\n"
        "<tr><th>host</th><td>example.com</td></tr>\n"
        "<tr><th>accept</th><td>text/html,application/xhtml+xml,*/*;q=0.8</td></tr>\n"
        "<tr><th>authorization</th><td>********************</td></tr>\n"
        "<tr><th>cookie</th><td>********************</td></tr>\n"
        "<tr><th>x-api-key</th><td>********************</td></tr>\n"
        "<tr><th>user-agent</th><td>Mozilla/5.0 &lt;b&gt;</td></tr>\n"
        "</table>\n"
        "<h3>Query parameters</h3>\n<table>\n"
        "<tr><th>page</th><td>2</td></tr>\n"
        "<tr><th>access_token</th><td>********************</td></tr>\n"
        "<tr><th>q</th><td>a b</td></tr>\n"
        "</table>\n"
    ) in text
    for secret in ("YWRhOnNlY3JldA==", "abc", "k-123", "t-456"):
        assert secret not in text


def test_path_parameters_are_listed_when_the_route_matched() -> None:
    scope = {**http_scope(), "path_params": {"user_id": 7, "token": "t-1"}}

    text = page(raised(log_in, "ada"), scope)

    assert (
        "<tr><th>Path parameters</th><td>{&#x27;user_id&#x27;: 7, "
        "&#x27;token&#x27;: ********************}</td></tr>"
    ) in text


def test_the_scope_in_a_frames_locals_has_its_secret_headers_and_query_masked() -> None:
    def handle(scope: Scope) -> None:
        raise ValueError("boom")

    scope = http_scope(
        [(b"cookie", f"session={SECRET}".encode())], query=f"key={SECRET}&p=2".encode()
    )

    exc = raised(handle, scope)
    text = page(exc, http_scope())

    assert "(b&#x27;cookie&#x27;, ********************)" in text
    assert "&#x27;query_string&#x27;: b&#x27;key=********************&amp;p=2&#x27;" in text
    assert SECRET not in text


# API clients ------------------------------------------------------------------


def test_an_api_client_gets_the_plain_traceback_without_locals() -> None:
    exc = raised(log_in, "ada")

    response = debug_response(http_scope([(b"accept", b"application/json")]), exc)

    assert response.status_code == 500
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert response.body.decode() == "".join(traceback.format_exception(exc))
    assert response.body.decode().startswith("Traceback (most recent call last):\n")
    assert SECRET not in response.body.decode()


# Names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "PASSWORD",
        "passwd",
        "api_key",
        "apikey",
        "secret_key",
        "access_token",
        "Authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "credentials",
        "session",
        "signature",
        "private_pem",
        b"authorization",
    ],
)
def test_names_that_look_secret(name: str | bytes) -> None:
    assert is_secret_name(name) is True


@pytest.mark.parametrize("name", ["username", "user_id", "email", "page", "host", "accept"])
def test_names_that_do_not_look_secret(name: str) -> None:
    assert is_secret_name(name) is False


# Through the app --------------------------------------------------------------


def test_a_debug_app_shows_the_page_for_a_handler_error() -> None:
    app = Carboy(settings=Settings(debug=True))

    @app.get("/accounts/{name}")
    def account(name: str) -> str:
        password = SECRET
        raise LookupError(f"No account {name!r} ({len(password)})")  # the handler fails

    client = TestClient(app, raise_server_exceptions=False)

    response = client.get("/accounts/ada", headers={"accept": "text/html"})

    assert response.status_code == 500
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert len(response.headers["x-request-id"]) == 32
    assert "<h1>LookupError</h1>" in response.text
    assert (
        f'<p class="location"><code>{escape(__file__)}</code>, '
        f"line {line_of('# the handler fails')}, in "
        "<code>test_a_debug_app_shows_the_page_for_a_handler_error.&lt;locals&gt;.account</code>"
        "</p>"
    ) in response.text
    assert "<tr><th>password</th><td>********************</td></tr>" in response.text
    assert "<tr><th>Path parameters</th><td>{&#x27;name&#x27;: &#x27;ada&#x27;}</td></tr>" in (
        response.text
    )
    assert SECRET not in response.text
