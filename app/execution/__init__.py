"""Execution: the Venue port, its two venues (simulator, Binance) and the one core that applies their reports."""
