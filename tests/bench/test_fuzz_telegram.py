"""The fuzzer's Telegram edge (bench/fuzz.py) against the real bot: an update python-telegram-bot
refuses is followed by a message that is answered, and what the bot stops doing is still a finding
(it stops fetching, it never finishes a message, it finishes without answering)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bench import fuzz
from bot import handlers

# The input of the flaky finding in the first long run (bench/results/fuzz_telegram/).
REFUSED = {"message": [{"": 0.0}, "\x0c\x0b\x06\x10\x0e\x0f\x05", None], "edited_message": None}
USER = fuzz.TelegramEdge.USERS[1]
TEXT = {
    "message": {
        "message_id": 7,
        "date": 0,
        "chat": {"id": USER, "type": "private"},
        "from": {"id": USER, "is_bot": False, "first_name": "Fuzz"},
        "text": "pay my phone bill",
    }
}


@pytest.fixture
def short_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """Findings after 2 s instead of 45."""
    monkeypatch.setattr(fuzz.TelegramEdge, "FETCH_SECONDS", 2.0)
    monkeypatch.setattr(fuzz.TelegramEdge, "SETTLE_SECONDS", 2.0)


def telegram_edge(workdir: Path) -> Any:
    return fuzz.running_edges(workdir, ("telegram",))


def test_a_refused_update_is_fetched_alone_and_the_next_message_answered(tmp_path: Path) -> None:
    with telegram_edge(tmp_path) as [edge]:
        for _ in range(3):
            assert edge.check(REFUSED) == "refused by the Bot API parser"
        assert edge.check(TEXT) == "message:answered"
        # Every update came in a getUpdates answer of its own: a hello queued with a refused update
        # would have been dropped with it.
        assert set(Counter(edge.fake.served_by.values()).values()) == {1}
        assert len(edge.fake.calls_to("sendMessage", fuzz.TelegramEdge.USERS[0])) == 3  # three hellos


def test_a_bot_that_stops_fetching_updates_is_a_finding(tmp_path: Path, short_waits: None) -> None:
    with telegram_edge(tmp_path) as [edge]:
        updater = edge.application.updater
        edge.loop.run(updater.stop())
        try:
            # A getUpdates still open at the fake when polling stopped may take the update into a dead
            # poll: the harness then reports the same stopped bot as an update never finished.
            stopped = r"the bot stopped fetching updates|the bot fetched the update and never finished it"
            with pytest.raises(fuzz.Finding, match=stopped):
                edge.check(TEXT)
        finally:
            edge.loop.run(updater.start_polling(poll_interval=0.0, timeout=1))  # to stop it as usual


def test_a_message_the_bot_never_finishes_is_a_finding(
    tmp_path: Path, short_waits: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = asyncio.Event()

    async def hang(update: object, context: object) -> None:
        await release.wait()

    monkeypatch.setattr(handlers, "on_text", hang)
    with telegram_edge(tmp_path) as [edge]:
        try:
            with pytest.raises(fuzz.Finding, match="fetched the update and never finished it"):
                edge.check(TEXT)
            with pytest.raises(fuzz.Finding, match="refused, the bot fetched a message and never finished"):
                edge.check(REFUSED)
        finally:
            edge.loop.loop.call_soon_threadsafe(release.set)  # so that the bot can stop


def test_a_message_finished_without_an_answer_is_a_finding(
    tmp_path: Path, short_waits: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def silent(update: object, context: object) -> None:
        return None

    monkeypatch.setattr(handlers, "on_text", silent)
    with telegram_edge(tmp_path) as [edge]:
        with pytest.raises(fuzz.Finding, match="a private message got no answer"):
            edge.check(TEXT)
        with pytest.raises(fuzz.Finding, match="refused, the bot stopped answering"):
            edge.check(REFUSED)
