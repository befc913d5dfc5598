"""Preset header matching against what a run really reads.

A preset's columns are matched against the file at the config's ``path`` when the config
loads. ``--input tickets=other.csv`` or ``--input tickets=-`` (stdin) reads another export,
so its headers are matched again here, exactly as the config path's would be: a column the
export lacks and the preset marks optional is dropped, a missing required one is one line
naming the preset, the column and the closest header.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from crmmetrics.config import Config


def config_for_inputs(config: Config, inputs: dict[str, str] | None, stdin: Any = None) -> tuple[Config, Any]:
    """``config`` with its preset sources matched against ``inputs``, and the stdin to read.

    stdin comes back wrapped in a ReplayStdin when its header was read here, so the reader
    still gets the whole export afterwards.
    """
    from crmmetrics.config import config_from_data
    from crmmetrics.presets import file_headers, merged_block, preset_entities
    from crmmetrics.presets.headers import headers_of
    from crmmetrics.io.readers import ReplayStdin, read_bytes

    data = config.data
    if not inputs or not isinstance(data, dict):
        return config, stdin
    touched = preset_entities(data.get("sources")) & set(inputs)
    if not touched:
        return config, stdin
    found: dict[str, tuple[list[str], str]] = {}
    for entity in sorted(touched):
        raw = data["sources"][entity]
        _, first = merged_block(entity, raw[0] if isinstance(raw, list) else raw)
        path = inputs[entity]
        if path == "-":
            if not isinstance(stdin, ReplayStdin):
                stdin = ReplayStdin(stdin if stdin is not None else sys.stdin)
            found[entity] = (headers_of("<stdin>", read_bytes("-", stdin), first), "<stdin>")
        elif (headers := file_headers(path, Path.cwd(), first)) is not None:
            found[entity] = headers
    if not found:
        return config, stdin
    return config_from_data(data, config.lines, config.path, found), stdin
