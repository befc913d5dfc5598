"""Business engines shared by the metric families and the analyses.

Each module computes one thing every consumer must agree on (the MRR timeline, the order
policy, activity qualification and health scoring, business hours); metric modules and
analyses import them from here, never from each other (``tests/test_import_rules.py``).
"""
