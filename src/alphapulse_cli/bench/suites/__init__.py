"""Bench suites, one module per area."""
