"""Metric families and the registry that lists them (see registry.py)."""
