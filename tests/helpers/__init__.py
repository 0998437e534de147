"""Code shared by the tests, imported as `from tests.helpers.<module> import ...`.

Fixtures stay in the conftest.py files; these modules hold plain functions and classes."""
