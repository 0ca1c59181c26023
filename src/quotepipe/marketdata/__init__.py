"""Market data: Binance recordings, order books, the synthetic feed, the market-data process."""
