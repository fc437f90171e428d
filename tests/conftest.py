"""Registers the shared fixtures of tests/helpers for the whole suite, and keeps logging state per test."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

pytest_plugins = [
    "tests.helpers.db",
    "tests.helpers.sandbox",
    "tests.helpers.stack",
]


@pytest.fixture(autouse=True)
def logging_state_restored() -> Iterator[None]:
    """Logger levels, propagate and disabled flags and `logging.disable` as they were before the test.

    One process runs every test: a level set and left behind (bench.fuzz once left "telegram" at
    CRITICAL) silences a library for every later test, which then fails only in the full ordering.
    Only loggers known before the test are reset (collection has imported nearly all modules);
    handlers are left alone: pytest adds and removes its own around each phase.
    """
    manager = logging.root.manager
    disabled_below = manager.disable
    default = (logging.NOTSET, True, False)
    saved = {
        name: (item.level, item.propagate, item.disabled) if isinstance(item, logging.Logger) else default
        for name, item in list(manager.loggerDict.items())
    }
    saved[""] = (logging.root.level, logging.root.propagate, logging.root.disabled)
    yield
    changed = manager.disable != disabled_below
    # A logger only a placeholder before (the parent "telegram" of "telegram.ext") had the
    # defaults; one first named during the test keeps what its module's import gave it.
    for name, (level, propagate, disabled) in saved.items():
        logger = logging.root if not name else manager.loggerDict.get(name)
        if not isinstance(logger, logging.Logger):
            continue
        if (logger.level, logger.propagate, logger.disabled) != (level, propagate, disabled):
            logger.setLevel(level)
            logger.propagate, logger.disabled = propagate, disabled
            changed = True
    if changed:
        logging.disable(disabled_below)  # also clears the effective levels cached meanwhile
