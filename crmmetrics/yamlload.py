"""YAML loading with line numbers and YAML 1.2 scalars.

PyYAML follows YAML 1.1, where ``no`` is ``False``, ``12:30`` is ``750`` and an
unquoted ``2024-01-05`` is a ``date``. Column names such as ``No`` or values such as
``evet``/``no`` in a ``values`` map would silently change type, so this loader
resolves booleans only from ``true``/``false`` and leaves times and dates as strings
(what editors, which speak YAML 1.2, show the user). It also records the line of every
key so that config errors can say ``config.yaml:14: sources.deals.fields: ...``.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

Path_ = tuple[Any, ...]


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans and no sexagesimal ints or timestamps."""


# Drop the YAML 1.1 resolvers for bool, int, float and timestamp, then add back
# YAML 1.2 core-schema versions (e.g. "yes" stays "yes"; "12:30" stays "12:30").
_Loader.yaml_implicit_resolvers = {
    key: [(tag, rx) for tag, rx in resolvers if tag not in {
        "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float", "tag:yaml.org,2002:timestamp"}]
    for key, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789")
)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"),
    list("-+0123456789."),
)


def _construct_int(loader: yaml.SafeLoader, node: yaml.Node) -> int:
    # YAML 1.2: "010" is ten, not eight.
    return int(loader.construct_scalar(node))  # type: ignore[arg-type]


_Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)


# Budgets for the config's YAML. A real config has a few thousand nodes and ten levels;
# these leave ample room and stop a "billion laughs" file (aliases of aliases, 1 KB of
# text expanding to 10^9 nodes) before anything walks the expansion.
MAX_NODES = 100_000  # nodes after alias expansion (an alias counts its whole subtree)
MAX_DEPTH = 50  # levels of nesting, aliases included
_MERGE = "tag:yaml.org,2002:merge"


class YamlRefused(yaml.MarkedYAMLError):
    """Well-formed YAML this loader will not use: a duplicate key, a recursive alias, too
    deep or too large once aliases are expanded. ``problem_mark`` is where; ``hint`` says why."""

    def __init__(self, problem: str, mark: yaml.Mark | None, hint: str) -> None:
        super().__init__(problem=problem, problem_mark=mark)
        self.hint = hint


def _key_of(node: yaml.Node) -> Any:
    """A mapping key as the constructor would see it (``1`` and ``01`` are the same int)."""
    if node.tag == "tag:yaml.org,2002:int":
        return ("int", int(node.value))
    return (node.tag, node.value) if isinstance(node, yaml.ScalarNode) else ("node", id(node))


def check_node(root: yaml.Node) -> None:
    """Refuse duplicate keys, recursive aliases, nesting past MAX_DEPTH and an alias
    expansion past MAX_NODES, before the document is constructed or walked.

    Each distinct node is visited once (sizes are memoised), so the check is linear in
    the text even when the expansion is exponential.
    """
    sizes: dict[int, tuple[int, int]] = {}  # id(node) → (expanded size, height)
    open_: set[int] = set()

    def visit(node: yaml.Node, depth: int) -> tuple[int, int]:
        known = sizes.get(id(node))
        if known is not None:
            if depth + known[1] > MAX_DEPTH:
                raise _too_deep(node)
            return known
        if id(node) in open_:
            raise YamlRefused("an alias refers to a node that contains it (a recursive alias)", node.start_mark,
                              "a config is a tree: copy the values instead of referring back")
        if depth > MAX_DEPTH:
            raise _too_deep(node)
        if isinstance(node, yaml.ScalarNode):
            sizes[id(node)] = (1, 1)
            return 1, 1
        open_.add(id(node))
        if isinstance(node, yaml.MappingNode):
            _refuse_duplicates(node)
            children = [n for pair in node.value for n in pair]
        else:
            children = list(node.value)
        size, height = 1, 1
        for child in children:
            s, h = visit(child, depth + 1)
            size, height = size + s, max(height, h + 1)
            if size > MAX_NODES:
                raise YamlRefused(f"more than {MAX_NODES:,} values once aliases are expanded (an alias bomb?)", child.start_mark,
                                  "use anchors and aliases sparingly; a config this large is not what crmmetrics reads")
        open_.discard(id(node))
        sizes[id(node)] = (size, height)
        return size, height

    visit(root, 1)


def _too_deep(node: yaml.Node) -> YamlRefused:
    return _too_deep_at(node.start_mark)


def _too_deep_at(mark: yaml.Mark | None) -> YamlRefused:
    return YamlRefused(f"nested more than {MAX_DEPTH} levels deep", mark, "a config needs a handful of levels; check the brackets")


def _refuse_duplicates(node: yaml.MappingNode) -> None:
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == _MERGE:
            continue  # "<<: *base" may override keys; that is what merging is for
        key = _key_of(key_node)
        line = key_node.start_mark.line + 1
        if key in seen:
            raise YamlRefused(f"duplicate key {key_node.value!r} (first at line {seen[key]}, again at line {line})",
                              key_node.start_mark, "keep one of them: YAML would silently use the last")
        seen[key] = line


def load_yaml(text: str) -> tuple[Any, dict[Path_, int]]:
    """Parse ``text``; return the data and a map from key paths to 1-based lines.

    A path is a tuple of mapping keys and list indexes, e.g. ``("sources", "deals",
    "fields")``. Raises ``yaml.YAMLError`` (with a ``problem_mark``) on bad syntax, and
    :class:`YamlRefused` on duplicate keys, recursive aliases, deep nesting or an alias
    expansion past the budget (checked on the node graph, before anything is built).
    """
    loader = _Loader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:
            # PyYAML composes recursively: thousands of "[" exhaust the stack first.
            raise _too_deep_at(loader.get_mark()) from None
        if node is not None:
            check_node(node)
        data = loader.construct_document(node) if node is not None else None
    finally:
        loader.dispose()
    lines: dict[Path_, int] = {}
    if node is not None:
        _walk(node, (), lines, loader)
    return data, lines


def _walk(node: yaml.Node, path: Path_, lines: dict[Path_, int], loader: _Loader) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            if key_node.tag == "tag:yaml.org,2002:int":
                key = int(key)
            lines[path + (key,)] = key_node.start_mark.line + 1
            _walk(value_node, path + (key,), lines, loader)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[path + (i,)] = item.start_mark.line + 1
            _walk(item, path + (i,), lines, loader)


def line_for(path: Path_, lines: dict[Path_, int]) -> int | None:
    """The line of ``path``, or of its longest known prefix."""
    for cut in range(len(path), -1, -1):
        line = lines.get(tuple(path[:cut]))
        if line is not None:
            return line
    return None
