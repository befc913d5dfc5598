"""`crmmetrics check` and goals, engine side: rules from the config, their evaluation on
complete periods, source freshness and goal progress. No CLI, no printing; renderers
live in ``crmmetrics/render/checks.py``.
"""
