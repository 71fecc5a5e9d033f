"""Dagster wiring of data quality: ``quality/bar_quality_report`` and its job."""
