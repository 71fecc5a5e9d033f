"""Dagster wiring of trading: session job and sensor, report, reconciliation, schedules."""
