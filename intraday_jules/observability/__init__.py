"""Logging and metrics: every Prometheus metric lives in ``metrics.py``."""
