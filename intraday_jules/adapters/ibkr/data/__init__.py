"""Interactive Brokers market data: historical source, backfill, streaming, live bar feed."""
