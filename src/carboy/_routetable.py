"""The route table: path patterns compiled into a segment trie at startup.

A request path is split on ``/`` and walked down the trie: a dict lookup per
literal segment, and a converter check per parameter, so matching costs the
same whatever the number of routes. Paths without parameters skip the trie
altogether: they are one dict lookup.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import quote

from carboy.converters import (
    Converter,
    IntConverter,
    PathConverter,
    StringConverter,
    converter_for_annotation,
)
from carboy.exceptions import ImproperlyConfigured

T = TypeVar("T")

_PARAM = re.compile(r"{([^{}]*)}")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class Segment:
    """One ``/``-separated piece of a compiled path pattern."""

    literal: str | None = None
    name: str | None = None
    converter: Converter | None = None
    pattern: re.Pattern[str] | None = None
    converters: tuple[tuple[str, Converter], ...] = ()
    template: tuple[tuple[bool, str], ...] = ()
    is_tail: bool = False

    def match(self, part: str, params: dict[str, Any]) -> bool:
        """Convert ``part`` into ``params``; tell whether it matched."""
        converter = self.converter
        if converter is not None:
            kind = type(converter)
            # The two most common converters skip the regex.
            if kind is StringConverter:
                if not part:
                    return False
                params[self.name] = part  # type: ignore[index]
                return True
            if kind is IntConverter:
                if not (part.isascii() and part.isdigit()):
                    return False
                params[self.name] = int(part)  # type: ignore[index]
                return True
            if not _fullmatch(converter, part):
                return False
            try:
                params[self.name] = converter.convert(part)  # type: ignore[index]
            except ValueError:
                return False
            return True
        if self.pattern is None:
            return False
        found = self.pattern.fullmatch(part)
        if found is None:
            return False
        try:
            for name, conv in self.converters:
                params[name] = conv.convert(found.group(name))
        except ValueError:
            return False
        return True

    @property
    def key(self) -> tuple[Any, ...]:
        return (self.name, id(self.converter), self.pattern and self.pattern.pattern)


_FULLMATCH_CACHE: dict[str, re.Pattern[str]] = {}


def _fullmatch(converter: Converter, part: str) -> bool:
    pattern = _FULLMATCH_CACHE.get(converter.regex)
    if pattern is None:
        pattern = _FULLMATCH_CACHE[converter.regex] = re.compile(converter.regex)
    return pattern.fullmatch(part) is not None


@dataclass(frozen=True)
class CompiledPath:
    """A path pattern, parsed: its segments and parameter names."""

    pattern: str
    segments: tuple[Segment, ...]
    param_names: tuple[str, ...]

    @property
    def is_static(self) -> bool:
        return not self.param_names

    def build(self, params: Mapping[str, Any]) -> str:
        """Return the path for ``params``; raise KeyError or ValueError if they do not fit."""
        missing = set(self.param_names) - set(params)
        extra = set(params) - set(self.param_names)
        if missing or extra:
            raise KeyError(sorted(missing), sorted(extra))
        out = []
        for segment in self.segments:
            if segment.literal is not None:
                out.append(segment.literal)
            elif segment.converter is not None:
                text = segment.converter.to_string(params[segment.name])  # type: ignore[index]
                out.append(quote(text, safe="/" if segment.is_tail else ""))
            else:
                out.append(_build_mixed(segment, params))
        return "/" + "/".join(out)


def _build_mixed(segment: Segment, params: Mapping[str, Any]) -> str:
    converters = dict(segment.converters)
    return "".join(
        quote(converters[text].to_string(params[text]), safe="") if is_param else text
        for is_param, text in segment.template
    )


def compile_path(
    path: str,
    converters: Mapping[str, Converter],
    annotations: Mapping[str, Any] | None = None,
) -> CompiledPath:
    """Parse a pattern such as ``/users/{id:int}/files/{rest:path}``.

    A bare ``{name}`` takes its converter from ``annotations`` (the handler's
    type hints) when they name a type with a converter, else ``str``.

    Raises:
        ImproperlyConfigured: on a pattern that does not start with ``/``, an
            unknown converter, a repeated or invalid name, or a ``path``
            parameter that is not last.
    """
    if not path.startswith("/"):
        raise ImproperlyConfigured(f"The route path {path!r} must start with '/'.")
    names: list[str] = []
    segments: list[Segment] = []
    parts = path[1:].split("/")
    for index, part in enumerate(parts):
        pieces = _PARAM.split(part)
        if len(pieces) == 1:
            if "{" in part or "}" in part:
                raise ImproperlyConfigured(
                    f"The route path {path!r} has an unbalanced brace in {part!r}."
                )
            segments.append(Segment(literal=part))
            continue
        template: list[tuple[bool, str]] = []
        regex = ""
        seg_converters: list[tuple[str, Converter]] = []
        for position, piece in enumerate(pieces):
            if position % 2 == 0:
                if "{" in piece or "}" in piece:
                    raise ImproperlyConfigured(
                        f"The route path {path!r} has an unbalanced brace in {part!r}."
                    )
                if piece:
                    template.append((False, piece))
                    regex += re.escape(piece)
                continue
            name, _, converter_name = piece.partition(":")
            name = name.strip()
            converter_name = converter_name.strip()
            if not _NAME.match(name):
                raise ImproperlyConfigured(
                    f"The route path {path!r} has a parameter {piece!r} whose name is not "
                    "a Python identifier."
                )
            if name in names:
                raise ImproperlyConfigured(
                    f"The route path {path!r} uses the parameter name {name!r} twice."
                )
            if not converter_name:
                hint = (annotations or {}).get(name)
                converter_name = converter_for_annotation(hint)
            converter = converters.get(converter_name)
            if converter is None:
                known = ", ".join(sorted(converters))
                raise ImproperlyConfigured(
                    f"The route path {path!r} uses the converter {converter_name!r}, which is not "
                    f"registered. Known converters: {known}. Register yours with "
                    f"app.add_converter({converter_name!r}, ...) before adding the route."
                )
            if isinstance(converter, PathConverter) and index != len(parts) - 1:
                raise ImproperlyConfigured(
                    f"The route path {path!r} has the path parameter {name!r} before its end; "
                    "a path parameter takes the rest of the path, so it must come last."
                )
            names.append(name)
            template.append((True, name))
            regex += f"(?P<{name}>{converter.regex})"
            seg_converters.append((name, converter))
        if len(template) == 1 and template[0][0]:
            name, converter = seg_converters[0]
            segments.append(
                Segment(
                    name=name,
                    converter=converter,
                    is_tail=isinstance(converter, PathConverter),
                )
            )
        else:
            if any(isinstance(conv, PathConverter) for _, conv in seg_converters):
                raise ImproperlyConfigured(
                    f"The route path {path!r} mixes a path parameter with other text in "
                    f"{part!r}; give it a segment of its own."
                )
            segments.append(
                Segment(
                    pattern=re.compile(regex),
                    converters=tuple(seg_converters),
                    template=tuple(template),
                )
            )
    return CompiledPath(path, tuple(segments), tuple(names))


class _Node(Generic[T]):
    __slots__ = ("dynamic", "leaf", "static", "tails")

    def __init__(self) -> None:
        self.static: dict[str, _Node[T]] = {}
        self.dynamic: list[tuple[Segment, _Node[T]]] = []
        self.tails: list[tuple[Segment, dict[str, T]]] = []
        self.leaf: dict[str, T] | None = None


class RouteTable(Generic[T]):
    """Map (method, path) to an entry, in time independent of the number of routes."""

    def __init__(self) -> None:
        self._static: dict[str, dict[str, T]] = {}
        self._root: _Node[T] = _Node()

    def add(self, compiled: CompiledPath, methods: frozenset[str], entry: T) -> None:
        """Add ``entry`` for each of ``methods`` on ``compiled``."""
        if compiled.is_static:
            leaf = self._static.setdefault(compiled.pattern, {})
        else:
            leaf = self._leaf_for(compiled.segments)
        for method in methods:
            leaf.setdefault(method, entry)

    def _leaf_for(self, segments: tuple[Segment, ...]) -> dict[str, T]:
        node = self._root
        for segment in segments:
            if segment.literal is not None:
                node = node.static.setdefault(segment.literal, _Node())
                continue
            if segment.is_tail:
                for tail, leaf in node.tails:
                    if tail.key == segment.key:
                        return leaf
                new_leaf: dict[str, T] = {}
                node.tails.append((segment, new_leaf))
                return new_leaf
            for existing, child in node.dynamic:
                if existing.key == segment.key:
                    node = child
                    break
            else:
                child = _Node()
                node.dynamic.append((segment, child))
                # A plain str parameter matches anything, so it is tried last.
                node.dynamic.sort(key=lambda pair: type(pair[0].converter) is StringConverter)
                node = child
        if node.leaf is None:
            node.leaf = {}
        return node.leaf

    def match(self, method: str, path: str) -> tuple[T | None, dict[str, Any], set[str]]:
        """Return (entry, path params, allowed methods).

        ``entry`` is ``None`` when nothing fits: then ``allowed`` holds the
        methods the path does accept (405), or is empty (404).
        """
        allowed: set[str] = set()
        leaf = self._static.get(path)
        if leaf is not None:
            entry = leaf.get(method)
            if entry is None and method == "HEAD":
                entry = leaf.get("GET")
            if entry is not None:
                return entry, {}, allowed
            allowed.update(leaf)
        if path[:1] != "/":
            return None, {}, allowed
        parts = path[1:].split("/")
        params: dict[str, Any] = {}
        # First the path a depth-first search would try first, in a loop: it
        # is the answer for nearly every request. Only a dead end falls back
        # to the search with backtracking, which starts again from the root.
        node = self._root
        for part in parts:
            child = node.static.get(part)
            if child is None:
                if not node.dynamic:
                    break
                segment, child = node.dynamic[0]
                if not segment.match(part, params):
                    break
            node = child
        else:
            leaf = node.leaf
            if leaf is not None:
                entry = leaf.get(method)
                if entry is None and method == "HEAD":
                    entry = leaf.get("GET")
                if entry is not None:
                    return entry, params, allowed
        params.clear()
        entry = _walk(self._root, parts, 0, method, params, allowed)
        return entry, params, allowed

    def has_path(self, path: str) -> bool:
        """Tell whether any route, of any method, matches ``path``."""
        if path in self._static:
            return True
        if path[:1] != "/":
            return False
        allowed: set[str] = set()
        _walk(self._root, path[1:].split("/"), 0, "", {}, allowed)
        return bool(allowed)


def _walk(
    node: _Node[T],
    parts: list[str],
    index: int,
    method: str,
    params: dict[str, Any],
    allowed: set[str],
) -> T | None:
    if index == len(parts):
        return _pick(node.leaf, method, allowed)
    part = parts[index]
    child = node.static.get(part)
    if child is not None:
        found = _walk(child, parts, index + 1, method, params, allowed)
        if found is not None:
            return found
    for segment, child in node.dynamic:
        before = dict(params) if segment.pattern is not None else None
        if segment.match(part, params):
            found = _walk(child, parts, index + 1, method, params, allowed)
            if found is not None:
                return found
        if before is not None:
            params.clear()
            params.update(before)
        else:
            params.pop(segment.name, None)  # type: ignore[arg-type]
    for segment, leaf in node.tails:
        rest = "/".join(parts[index:])
        if segment.match(rest, params):
            found = _pick(leaf, method, allowed)
            if found is not None:
                return found
            params.pop(segment.name, None)  # type: ignore[arg-type]
    return None


def _pick(leaf: dict[str, T] | None, method: str, allowed: set[str]) -> T | None:
    if leaf is None:
        return None
    entry = leaf.get(method)
    if entry is None and method == "HEAD":
        entry = leaf.get("GET")
    if entry is None:
        allowed.update(leaf)
    return entry
