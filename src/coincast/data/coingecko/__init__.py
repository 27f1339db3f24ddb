"""CoinGecko: the HTTP client, its rate limit, response validation and error messages."""
