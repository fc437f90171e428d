"""Registers the shared fixtures of tests/helpers for the whole suite."""

pytest_plugins = [
    "tests.helpers.db",
    "tests.helpers.sandbox",
    "tests.helpers.stack",
]
