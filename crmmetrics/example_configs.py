"""The ready configs of ``examples/`` shipped inside the package (crmmetrics/examples is a
link to them), so `crmmetrics init --example NAME` works after a plain `pip install`."""

from __future__ import annotations

from importlib import resources

from crmmetrics.errors import UsageError


def example_names() -> list[str]:
    """Names of the shipped example configs (file stems), sorted."""
    root = resources.files("crmmetrics") / "examples"
    if not root.is_dir():
        return []
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".yaml"))


def example_text(name: str) -> str:
    """The YAML of example ``name``, with a first comment saying where it came from."""
    names = example_names()
    if name not in names:
        import difflib

        close = difflib.get_close_matches(name, names, n=1)
        raise UsageError(f"no example config {name!r}", hint=f"did you mean {close[0]!r}?" if close else f"examples: {', '.join(names) or 'none installed'}")
    text = (resources.files("crmmetrics") / "examples" / f"{name}.yaml").read_text(encoding="utf-8")
    return (f"# From `crmmetrics init --example {name}`: the paths point at the public datasets this example\n"
            "# was written for; point them at your own exports, then run crmmetrics validate.\n" + text)
