"""Market data: sources (simulated, replay, IBKR, Alpha Vantage), failover and the BarStore."""
