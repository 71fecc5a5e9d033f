"""IntradayJules: a Dagster-orchestrated data and RL pipeline for intraday trading of
NVDA + MSFT."""

__version__ = "0.1.0"
