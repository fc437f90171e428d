"""The action server warms up before it listens (issue 12): the first payment turn of a fresh
server no longer builds the payments service and every CLDR locale's currency vocabulary."""

from __future__ import annotations

import pytest

import actions.services
from actions import server
from payments import currency_markers, money

CACHED = (
    currency_markers.babel_symbols,
    currency_markers.babel_names,
    currency_markers.iso_codes,
    money._babel_symbols,
    money._multiword_names,
    money._compound_symbols,
)


def test_warm_up_builds_the_service_and_the_currency_vocabulary(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    monkeypatch.setattr(actions.services, "get_services", lambda: built.append("service"))
    for cached in CACHED:
        cached.cache_clear()
    server.warm_up()
    assert built == ["service"]
    assert [cached.cache_info().currsize for cached in CACHED] == [1] * len(CACHED)
    # A turn's amount check now reads the built vocabulary (no miss, nothing loaded).
    misses = money._babel_symbols.cache_info().misses
    assert money.unread_amount("pay it in roubles") == "roubles"
    assert money._babel_symbols.cache_info().misses == misses
