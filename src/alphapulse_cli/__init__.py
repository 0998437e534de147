"""alphapulse: capture, store and replay crypto market data."""

__version__ = "0.1.0"
