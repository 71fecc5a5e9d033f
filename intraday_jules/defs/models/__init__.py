"""Dagster wiring of the models: foundation, dual, evaluation, promotion."""
