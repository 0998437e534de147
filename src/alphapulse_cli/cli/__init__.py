"""Thin typer adapters over the library: parse options, open resources, map errors to exits."""
