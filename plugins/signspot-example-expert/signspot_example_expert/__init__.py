"""Example third-party expert for signspot-bench (see README.md)."""

__version__ = "0.1.0"
