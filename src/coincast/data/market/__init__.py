"""The local market-data store: SQLite/PostgreSQL tables, incremental refresh from CoinGecko."""
