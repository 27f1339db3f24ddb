"""What tests share besides fixtures: the app on loopback, synthetic histories, and
independent readings of expected data."""
