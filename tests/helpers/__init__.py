"""Code the tests share: the app on loopback (and its ``live_server`` fixture), synthetic
histories, and expected data read independently of the code under test."""
