"""Dagster wiring of features: ``features/feature_table`` and its checks."""
