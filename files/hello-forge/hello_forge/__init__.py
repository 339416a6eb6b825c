"""The forge demo application."""

__version__ = "1.0.0"
