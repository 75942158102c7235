"""The route table's matching cost does not grow with the number of routes."""

from __future__ import annotations

from typing import Any

import pytest

from carboy._routetable import RouteTable, Segment, compile_path
from carboy.converters import default_converters


def build_table(filler_routes: int) -> RouteTable[str]:
    converters = default_converters()
    table: RouteTable[str] = RouteTable()
    for index in range(filler_routes):
        table.add(
            compile_path(f"/filler{index}/{{n:int}}/item", converters),
            frozenset({"GET"}),
            f"f{index}",
        )
        table.add(compile_path(f"/static{index}", converters), frozenset({"GET"}), f"s{index}")
    table.add(
        compile_path("/users/{id:int}/posts/{slug}", converters), frozenset({"GET"}), "target"
    )
    return table


def count_segment_checks(table: RouteTable[str], path: str, monkeypatch: pytest.MonkeyPatch) -> int:
    calls = 0
    original = Segment.match

    def counting(self: Segment, part: str, params: dict[str, Any]) -> bool:
        nonlocal calls
        calls += 1
        return original(self, part, params)

    monkeypatch.setattr(Segment, "match", counting)
    entry, params, _ = table.match("GET", path)
    monkeypatch.setattr(Segment, "match", original)
    assert entry == "target"
    assert params == {"id": 12, "slug": "hello"}
    return calls


def test_matching_does_the_same_work_with_10_or_1000_routes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    small = build_table(10)
    large = build_table(1000)

    small_checks = count_segment_checks(small, "/users/12/posts/hello", monkeypatch)
    large_checks = count_segment_checks(large, "/users/12/posts/hello", monkeypatch)

    assert small_checks == large_checks == 2


def test_static_paths_are_found_without_walking_the_trie() -> None:
    table = build_table(1000)

    assert table.match("GET", "/static999") == ("s999", {}, set())
    assert table.match("POST", "/static999") == (None, {}, {"GET"})


def test_backtracking_finds_a_later_branch_when_an_earlier_one_dead_ends() -> None:
    converters = default_converters()
    table: RouteTable[str] = RouteTable()
    table.add(compile_path("/a/{x:int}/b", converters), frozenset({"GET"}), "int-b")
    table.add(compile_path("/a/{name}/c", converters), frozenset({"GET"}), "str-c")

    assert table.match("GET", "/a/5/c") == ("str-c", {"name": "5"}, set())
    assert table.match("GET", "/a/5/b") == ("int-b", {"x": 5}, set())


def test_an_int_parameter_is_tried_before_a_str_one_whatever_the_order() -> None:
    converters = default_converters()
    table: RouteTable[str] = RouteTable()
    table.add(compile_path("/p/{name}", converters), frozenset({"GET"}), "str")
    table.add(compile_path("/p/{id:int}", converters), frozenset({"GET"}), "int")

    assert table.match("GET", "/p/7") == ("int", {"id": 7}, set())
    assert table.match("GET", "/p/seven") == ("str", {"name": "seven"}, set())
