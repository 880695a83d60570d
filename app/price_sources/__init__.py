"""Price sources for the one PriceFeed actor: the simulated random walk, or Binance's live stream."""
