"""No function in crmmetrics/ is over cyclomatic complexity 25 (issue #10, docs/architecture.md).

Why the stdlib ``ast`` and not radon: CI and the base install do not carry radon (it is in the
``dev`` extra, for the figures in docs/architecture.md), and a limit that only holds where an
optional tool happens to be installed does not hold. ``complexity`` below counts decision
points the way radon 6 does (``radon.visitors.ComplexityVisitor``), so the number this test
prints is the number ``radon cc -s crmmetrics`` prints:

- 1 for the function, +1 per ``if``/``elif``, conditional expression and ``assert``;
- ``for``/``while``: +1, and +1 more for an ``else:`` block;
- ``try``: +1 per ``except`` handler, +1 for an ``else:`` block;
- ``and``/``or``: +1 per operand after the first (``a and b and c`` is +2);
- each ``for`` of a comprehension +1, and +1 per ``if`` in it;
- ``match``: +1 per case, the catch-all ``case _:`` (or a bare capture) not counted.

A nested function or class is its own block (measured and limited on its own), not part of
the enclosing function's number, and an ``assert`` is counted without looking inside it,
exactly as radon does. When radon is installed, ``test_the_count_agrees_with_radon`` checks
the two agree on every function of the package, so the counter cannot drift from the tool
the documentation quotes.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "crmmetrics"
LIMIT = 25
FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)


def _catch_all(case: ast.match_case) -> bool:
    """``case _:`` or ``case name:`` (radon: a MatchAs without a sub-pattern)."""
    return isinstance(case.pattern, ast.MatchAs) and case.pattern.pattern is None


def _points(node: ast.AST) -> int:
    """Decision points in ``node`` and below, not entering nested functions or classes."""
    if isinstance(node, (*FUNCTIONS, ast.ClassDef)):
        return 0
    if isinstance(node, ast.Assert):
        return 1
    own = 0
    if isinstance(node, ast.Try):
        own = len(node.handlers) + bool(node.orelse)
    elif isinstance(node, ast.BoolOp):
        own = len(node.values) - 1
    elif isinstance(node, (ast.If, ast.IfExp)):
        own = 1
    elif isinstance(node, ast.Match):
        own = max(0, len(node.cases) - any(_catch_all(c) for c in node.cases))
    elif isinstance(node, (ast.For, ast.While, ast.AsyncFor)):
        own = 1 + bool(node.orelse)
    elif isinstance(node, ast.comprehension):
        own = 1 + len(node.ifs)
    return own + sum(_points(child) for child in ast.iter_child_nodes(node))


def complexity(function: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Cyclomatic complexity of one function's body (decorators and defaults not counted)."""
    return 1 + sum(_points(statement) for statement in function.body)


def measure(source: str) -> list[tuple[str, int, int]]:
    """``(qualified name, line, complexity)`` of every function, method and closure in ``source``."""
    found: list[tuple[str, int, int]] = []

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, FUNCTIONS):
                found.append((prefix + child.name, child.lineno, complexity(child)))
                walk(child, f"{prefix}{child.name}.")
            elif isinstance(child, ast.ClassDef):
                walk(child, f"{prefix}{child.name}.")
            else:
                walk(child, prefix)

    walk(ast.parse(source), "")
    return found


def _package() -> list[tuple[str, str, int, int]]:
    """``(file, name, line, complexity)`` for every function under crmmetrics/."""
    return [(str(path.relative_to(PACKAGE.parent)), name, line, cc)
            for path in sorted(PACKAGE.rglob("*.py"))
            for name, line, cc in measure(path.read_text(encoding="utf-8"))]


def test_no_function_is_over_the_limit() -> None:
    over = [f"{path}:{line} {name} {cc}" for path, name, line, cc in _package() if cc > LIMIT]
    assert over == [], (f"cyclomatic complexity over {LIMIT} (split into named helpers with one job each):\n"
                        + "\n".join(over))


def test_the_counter_follows_radons_rules() -> None:
    """Hand-counted examples, one per rule in the module docstring."""
    source = '''
def f(xs, y):                          # 1
    if y and xs or not y:              # if +1, `and`/`or`: two BoolOps +2
        pass
    elif y:                            # +1
        pass
    for x in xs:                       # +1
        pass
    else:                              # +1
        pass
    while y:                           # +1
        break
    try:
        pass
    except ValueError:                 # +1
        pass
    except KeyError:                   # +1
        pass
    else:                              # +1
        pass
    z = [a for a in xs if a if a > 1]  # comprehension +1, two ifs +2
    w = 1 if y else 2                  # +1
    assert y and xs                    # +1, not looking inside
    match y:
        case 1:                        # +1
            pass
        case [a, b]:                   # +1
            pass
        case _:                        # catch-all: 0
            pass

    def inner(q):                      # its own block, not counted in f
        return q if q else 0

    class Inner:                       # likewise
        def m(self):
            return [i for i in range(3)]

    return z, w, lambda v: v if v else 0   # a lambda's body counts: +1
'''
    got = {name: cc for name, _, cc in measure(source)}
    assert got == {"f": 1 + 3 + 1 + 2 + 1 + 3 + 3 + 1 + 1 + 2 + 1, "f.inner": 2, "f.Inner.m": 2}


def test_the_count_agrees_with_radon() -> None:
    """Where radon is installed (``pip install -e .[dev]``), it gives the same number for
    every function, method and closure of the package."""
    radon = pytest.importorskip("radon.complexity")
    theirs: dict[tuple[str, int], int] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        file = str(path.relative_to(PACKAGE.parent))

        def add(blocks, file=file) -> None:
            for block in blocks:
                theirs[(file, block.lineno)] = block.complexity
                add(getattr(block, "closures", []))
                add(getattr(block, "methods", []))
                add(getattr(block, "inner_classes", []))

        add(radon.cc_visit(path.read_text(encoding="utf-8")))
    ours = {(file, line): cc for file, _, line, cc in _package()}
    common = ours.keys() & theirs.keys()  # radon skips methods of a class nested in a function
    differ = {key: (ours[key], theirs[key]) for key in common if ours[key] != theirs[key]}
    assert differ == {}
    assert len(common) > 0.95 * len(ours)
