"""Real servers that play external services in tests."""
