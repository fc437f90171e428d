"""Fixtures: stack (filled in by its owner)."""
