from __future__ import annotations

from typing import Any

import pytest

from carboy.datastructures import (
    URL,
    Address,
    Headers,
    ImmutableMultiDict,
    MultiDict,
    MutableHeaders,
    QueryParams,
    State,
)
from carboy.exceptions import HTTPException


def scope_with(
    headers: list[tuple[bytes, bytes]],
    *,
    scheme: str = "http",
    path: str = "/",
    query_string: bytes = b"",
    server: tuple[str, int] | None = ("example.com", 80),
    root_path: str = "",
) -> dict[str, Any]:
    return {
        "type": "http",
        "scheme": scheme,
        "path": path,
        "root_path": root_path,
        "query_string": query_string,
        "headers": headers,
        "server": server,
    }


# Headers


def test_headers_read_names_case_insensitively_and_give_the_first_value() -> None:
    headers = Headers(raw=[(b"accept", b"text/html"), (b"x-tag", b"a"), (b"x-tag", b"b")])

    assert headers["Accept"] == "text/html"
    assert headers["X-TAG"] == "a"
    assert headers.getlist("x-Tag") == ["a", "b"]
    assert headers.getlist("missing") == []
    assert headers.get("missing") is None
    assert "ACCEPT" in headers
    assert 3 not in headers
    assert len(headers) == 3
    assert list(headers) == ["accept", "x-tag", "x-tag"]
    assert headers.items() == [("accept", "text/html"), ("x-tag", "a"), ("x-tag", "b")]


def test_headers_raise_key_error_naming_a_missing_header() -> None:
    headers = Headers({"Accept": "*/*"})

    with pytest.raises(KeyError) as info:
        headers["Content-Type"]

    assert info.value.args == ("Content-Type",)


def test_headers_from_a_mapping_lower_case_the_names() -> None:
    headers = Headers({"Content-Type": "text/plain"})

    assert headers.raw == [(b"content-type", b"text/plain")]


def test_headers_from_a_scope_read_its_header_list() -> None:
    scope = scope_with([(b"host", b"example.com")])

    headers = Headers(scope=scope)

    assert headers["host"] == "example.com"
    assert headers.raw is scope["headers"]


def test_headers_decode_values_as_latin1() -> None:
    headers = Headers(raw=[(b"x-name", "café".encode("latin-1"))])

    assert headers["x-name"] == "café"


def test_headers_compare_equal_regardless_of_order() -> None:
    first = Headers(raw=[(b"a", b"1"), (b"b", b"2")])
    second = Headers(raw=[(b"b", b"2"), (b"a", b"1")])

    assert first == second
    assert first != Headers(raw=[(b"a", b"1")])
    assert repr(first) == "Headers([('a', '1'), ('b', '2')])"


def test_mutable_headers_setitem_replaces_every_value_of_a_name_in_place() -> None:
    headers = MutableHeaders(
        raw=[(b"vary", b"Accept"), (b"x-a", b"1"), (b"vary", b"Cookie"), (b"x-b", b"2")]
    )

    headers["Vary"] = "Origin"

    assert headers.raw == [(b"vary", b"Origin"), (b"x-a", b"1"), (b"x-b", b"2")]


def test_mutable_headers_setitem_adds_a_new_name_at_the_end() -> None:
    headers = MutableHeaders(raw=[(b"x-a", b"1")])

    headers["X-New"] = "2"

    assert headers.raw == [(b"x-a", b"1"), (b"x-new", b"2")]


def test_mutable_headers_change_the_list_they_were_given() -> None:
    raw: list[tuple[bytes, bytes]] = [(b"x-a", b"1")]
    headers = MutableHeaders(raw=raw)

    headers["x-a"] = "2"
    headers.append("set-cookie", "a=1")
    del headers["x-missing"]

    assert raw == [(b"x-a", b"2"), (b"set-cookie", b"a=1")]


def test_mutable_headers_append_keeps_earlier_values() -> None:
    headers = MutableHeaders()

    headers.append("Set-Cookie", "a=1")
    headers.append("set-cookie", "b=2")

    assert headers.getlist("set-cookie") == ["a=1", "b=2"]


def test_mutable_headers_delitem_removes_every_value_of_a_name() -> None:
    headers = MutableHeaders(raw=[(b"x-a", b"1"), (b"x-b", b"2"), (b"x-a", b"3")])

    del headers["X-A"]

    assert headers.raw == [(b"x-b", b"2")]


def test_mutable_headers_setdefault_sets_only_a_missing_header() -> None:
    headers = MutableHeaders(raw=[(b"cache-control", b"no-store")])

    kept = headers.setdefault("Cache-Control", "no-cache")
    added = headers.setdefault("X-Accel-Buffering", "no")

    assert (kept, added) == ("no-store", "no")
    assert headers.raw == [(b"cache-control", b"no-store"), (b"x-accel-buffering", b"no")]


def test_mutable_headers_update_replaces_each_given_header() -> None:
    headers = MutableHeaders(raw=[(b"x-a", b"1"), (b"x-a", b"2"), (b"x-b", b"3")])

    headers.update({"X-A": "9", "X-C": "4"})

    assert headers.raw == [(b"x-a", b"9"), (b"x-b", b"3"), (b"x-c", b"4")]


def test_add_vary_header_sets_it_when_absent() -> None:
    headers = MutableHeaders()

    headers.add_vary_header("Accept-Encoding")

    assert headers.raw == [(b"vary", b"Accept-Encoding")]


def test_add_vary_header_appends_a_new_name_and_skips_one_already_there() -> None:
    headers = MutableHeaders(raw=[(b"vary", b"Accept-Encoding")])

    headers.add_vary_header("Origin")
    headers.add_vary_header("accept-encoding")

    assert headers.raw == [(b"vary", b"Accept-Encoding, Origin")]


def test_add_vary_header_keeps_the_names_of_every_vary_header() -> None:
    headers = MutableHeaders(raw=[(b"vary", b"Accept-Encoding"), (b"vary", b"Cookie")])

    headers.add_vary_header("Origin")
    headers.add_vary_header("cookie")

    assert headers.raw == [(b"vary", b"Accept-Encoding, Cookie, Origin")]


@pytest.mark.parametrize("value", ["a\r\nSet-Cookie: x=1", "a\nb", "a\rb", "a\0b"])
def test_mutable_headers_refuse_cr_lf_and_nul_in_values(value: str) -> None:
    headers = MutableHeaders()

    with pytest.raises(ValueError) as info:
        headers["X-Note"] = value

    assert str(info.value) == (
        "The header 'X-Note' holds a CR, LF or NUL character, which would let it split the "
        "response. Remove them, or percent-encode the value."
    )
    assert headers.raw == []


def test_mutable_headers_refuse_cr_lf_in_names_when_appending() -> None:
    headers = MutableHeaders()

    with pytest.raises(ValueError) as info:
        headers.append("X-A\r\nX-B", "1")

    assert str(info.value) == (
        "The header 'X-A\\r\\nX-B' holds a CR, LF or NUL character, which would let it split "
        "the response. Remove them, or percent-encode the value."
    )


# MultiDict, QueryParams


def test_immutable_multidict_gives_the_last_value_by_key_and_all_by_getlist() -> None:
    data = ImmutableMultiDict([("a", "1"), ("b", "2"), ("a", "3")])

    assert data["a"] == "3"
    assert data.get("b") == "2"
    assert data.getlist("a") == ["1", "3"]
    assert data.getlist("missing") == []
    assert list(data) == ["a", "b"]
    assert len(data) == 2
    assert data.multi_items() == [("a", "1"), ("b", "2"), ("a", "3")]
    assert repr(data) == "ImmutableMultiDict([('a', '1'), ('b', '2'), ('a', '3')])"


def test_immutable_multidict_is_built_from_a_mapping_or_another_multidict() -> None:
    from_mapping = ImmutableMultiDict({"a": "1"})
    from_multidict = ImmutableMultiDict(ImmutableMultiDict([("a", "1"), ("a", "2")]))

    assert from_mapping.multi_items() == [("a", "1")]
    assert from_multidict.multi_items() == [("a", "1"), ("a", "2")]
    assert ImmutableMultiDict().multi_items() == []


def test_multidicts_compare_by_their_items_in_any_order() -> None:
    first = ImmutableMultiDict([("a", "1"), ("b", "2")])

    assert first == ImmutableMultiDict([("b", "2"), ("a", "1")])
    assert first != ImmutableMultiDict([("a", "1")])


def test_multidict_setitem_replaces_every_value_of_a_key() -> None:
    data = MultiDict([("a", "1"), ("b", "2"), ("a", "3")])

    data["a"] = "9"

    assert data.multi_items() == [("b", "2"), ("a", "9")]
    assert data["a"] == "9"


def test_multidict_append_keeps_earlier_values() -> None:
    data = MultiDict([("a", "1")])

    data.append("a", "2")

    assert data.getlist("a") == ["1", "2"]
    assert data["a"] == "2"


def test_multidict_delitem_removes_every_value_of_a_key() -> None:
    data = MultiDict([("a", "1"), ("b", "2"), ("a", "3")])

    del data["a"]

    assert data.multi_items() == [("b", "2")]
    assert "a" not in data


def test_multidict_setlist_replaces_the_values_or_removes_the_key_when_empty() -> None:
    data = MultiDict([("a", "1"), ("b", "2")])

    data.setlist("a", ["x", "y"])
    data.setlist("b", [])

    assert data.multi_items() == [("a", "x"), ("a", "y")]
    assert data["a"] == "y"
    assert "b" not in data


def test_query_params_parse_repeated_keys_blank_values_and_percent_escapes() -> None:
    params = QueryParams(b"a=1&b=&a=2&c&d=caf%C3%A9+au+lait")

    assert params.multi_items() == [
        ("a", "1"),
        ("b", ""),
        ("a", "2"),
        ("c", ""),
        ("d", "café au lait"),
    ]
    assert str(params) == "a=1&b=&a=2&c=&d=caf%C3%A9+au+lait"


def test_query_params_are_built_from_a_str_or_pairs() -> None:
    assert QueryParams("a=1&a=2").getlist("a") == ["1", "2"]
    assert QueryParams([("a", "1")]).multi_items() == [("a", "1")]
    assert QueryParams().multi_items() == []


def test_query_params_decode_raw_utf8_bytes() -> None:
    params = QueryParams("q=café".encode())

    assert params["q"] == "café"


@pytest.mark.parametrize("query", [b"q=%ff", b"q=\xff", b"%ff=1"])
def test_query_params_that_are_not_utf8_raise_400(query: bytes) -> None:
    with pytest.raises(HTTPException) as info:
        QueryParams(query)

    assert info.value.status_code == 400
    assert info.value.detail == "The query string is not valid UTF-8."


# URL


def test_url_gives_its_parts() -> None:
    url = URL("https://user@example.com:8443/a/b?x=1&y=2#top")

    assert url.scheme == "https"
    assert url.netloc == "user@example.com:8443"
    assert url.hostname == "example.com"
    assert url.port == 8443
    assert url.path == "/a/b"
    assert url.query == "x=1&y=2"
    assert url.fragment == "top"
    assert url.is_secure
    assert not URL("http://example.com/").is_secure
    assert repr(url) == "URL('https://user@example.com:8443/a/b?x=1&y=2#top')"


def test_url_equals_the_same_url_or_its_string_and_hashes_alike() -> None:
    url = URL("http://example.com/a")

    assert url == URL("http://example.com/a")
    assert url == "http://example.com/a"
    assert url != URL("http://example.com/b")
    assert url != 1
    assert hash(url) == hash(URL("http://example.com/a"))


def test_url_replace_changes_only_the_parts_given() -> None:
    url = URL("http://example.com/a?x=1#top")

    replaced = url.replace(scheme="https", netloc="example.org:8443", path="/b")

    assert replaced == URL("https://example.org:8443/b?x=1#top")
    assert url == URL("http://example.com/a?x=1#top")


def test_url_include_query_params_sets_and_adds_parameters() -> None:
    url = URL("http://example.com/search?page=1&tag=a&tag=b&empty=")

    updated = url.include_query_params(page=2, q="café au lait")

    assert str(updated) == (
        "http://example.com/search?tag=a&tag=b&empty=&page=2&q=caf%C3%A9+au+lait"
    )


def test_url_from_scope_uses_the_host_header() -> None:
    scope = scope_with(
        [(b"host", b"example.org:8000")], path="/a/b", query_string=b"x=1", scheme="https"
    )

    url = URL.from_scope(scope)

    assert url == URL("https://example.org:8000/a/b?x=1")


def test_url_from_scope_without_host_uses_the_server_and_drops_the_default_port() -> None:
    assert URL.from_scope(scope_with([], server=("example.com", 80))) == "http://example.com/"
    assert URL.from_scope(scope_with([], server=("10.0.0.1", 8080))) == "http://10.0.0.1:8080/"
    assert (
        URL.from_scope(scope_with([], scheme="https", server=("example.com", 443)))
        == "https://example.com/"
    )
    assert (
        URL.from_scope(scope_with([], scheme="wss", server=("example.com", 80), path="/ws"))
        == "wss://example.com:80/ws"
    )


def test_url_from_scope_without_host_brackets_an_ipv6_server() -> None:
    url = URL.from_scope(scope_with([], server=("::1", 8000), path="/a"))

    assert url == "http://[::1]:8000/a"
    assert (url.hostname, url.port) == ("::1", 8000)


def test_url_from_scope_without_host_or_server_is_the_path_alone() -> None:
    url = URL.from_scope(scope_with([], server=None, path="/a", query_string=b"x=1"))

    assert url == "/a?x=1"


def test_url_from_scope_keeps_a_mount_prefix_that_the_path_already_holds() -> None:
    scope = scope_with([(b"host", b"example.com")], path="/blog/posts", root_path="/blog")

    url = URL.from_scope(scope)

    assert url == "http://example.com/blog/posts"


def test_address_is_a_host_and_port_pair() -> None:
    address = Address("127.0.0.1", 5000)

    assert (address.host, address.port) == ("127.0.0.1", 5000)
    assert address == ("127.0.0.1", 5000)


# State


def test_state_keeps_attributes() -> None:
    state = State({"db": "sqlite"})

    state.user = "ann"
    state.update({"count": 2})

    assert (state.db, state.user, state.count) == ("sqlite", "ann", 2)
    assert "user" in state
    assert "missing" not in state
    assert repr(state) == "State({'db': 'sqlite', 'user': 'ann', 'count': 2})"


def test_state_missing_attribute_raises_attribute_error_naming_it() -> None:
    state = State()

    with pytest.raises(AttributeError) as info:
        state.db  # noqa: B018

    assert str(info.value) == "The state has no attribute 'db'; set it first."
    assert getattr(state, "db", None) is None
    assert not hasattr(state, "db")


def test_state_deleting_an_attribute_removes_it() -> None:
    state = State({"db": "sqlite"})

    del state.db

    assert "db" not in state


def test_state_deleting_a_missing_attribute_raises_attribute_error_naming_it() -> None:
    state = State()

    with pytest.raises(AttributeError) as info:
        del state.db

    assert str(info.value) == "The state has no attribute 'db'; set it first."
