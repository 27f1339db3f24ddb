"""The metadata database: engine, migration locks and the one migration runner."""
