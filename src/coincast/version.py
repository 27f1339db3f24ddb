"""The package version, in a module of its own so any module can read it without
importing the package's lazy public API (which would import that module back)."""

__version__ = "0.1.0"
