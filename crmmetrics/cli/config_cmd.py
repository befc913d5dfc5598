"""`crmmetrics config schema`: the JSON Schema editors use to check the YAML config."""

from __future__ import annotations

import sys

from crmmetrics.cli.root import config_app
from crmmetrics.cli.boundary import guarded
from crmmetrics.cli.options import DebugOpt


@config_app.command("schema")
@guarded
def schema_cmd(debug: DebugOpt = False) -> None:
    """Print the config's JSON Schema (save it as config.schema.json next to your config)."""
    from crmmetrics.config import json_schema_text

    sys.stdout.write(json_schema_text())
