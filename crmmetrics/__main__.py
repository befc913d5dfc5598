"""``python -m crmmetrics``."""

from crmmetrics.cli import main

main()
