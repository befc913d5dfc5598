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


def load_yaml(text: str) -> tuple[Any, dict[Path_, int]]:
    """Parse ``text``; return the data and a map from key paths to 1-based lines.

    A path is a tuple of mapping keys and list indexes, e.g. ``("sources", "deals",
    "fields")``. Raises ``yaml.YAMLError`` (with a ``problem_mark``) on bad syntax.
    """
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
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
