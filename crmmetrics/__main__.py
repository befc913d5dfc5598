"""``python -m crmmetrics``."""

from crmmetrics.cli import run

run()
