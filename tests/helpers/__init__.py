"""Shared test factories, fakes and fixtures (registered as pytest plugins in tests/conftest.py)."""
