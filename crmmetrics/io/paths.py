"""Which files a source path names: the path itself when it exists, else glob matches.

``*``, ``?`` and ``[`` are legal in file names (``deals[1].csv``), so a path that exists
is always read as it is, and only a path that does not exist is taken as a pattern. A
pattern is matched relative to the config's folder without reading that folder's own
name as a pattern (a config in ``proj[2]/`` still finds ``exports/*.csv``). To match
a literal ``[`` inside a pattern, write ``[[]``.
"""

from __future__ import annotations

import glob
from pathlib import Path

GLOB_CHARS = frozenset("*?[")


def source_paths(path: str, base_dir: Path) -> tuple[list[Path], bool]:
    """(files, is_pattern) for a config path relative to ``base_dir``.

    A path that exists (or has no pattern characters) gives itself, whether or not it
    exists (the reader reports a missing file); a pattern gives its sorted matches that
    are not folders, possibly none.
    """
    p = Path(path).expanduser()
    full = p if p.is_absolute() else base_dir / p
    if full.exists() or not (GLOB_CHARS & set(path)):
        return [full], False
    if p.is_absolute():
        matches = glob.glob(str(p))
    else:
        matches = [str(base_dir / m) for m in glob.glob(str(p), root_dir=base_dir)]
    return [Path(m) for m in sorted(matches) if not Path(m).is_dir()], True
