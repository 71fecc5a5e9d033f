"""Dagster wiring of ingestion: the ``market_data/bars`` asset, its checks, job, schedule."""
