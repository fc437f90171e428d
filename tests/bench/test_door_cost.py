"""bench/door_cost.py's A/B runs end to end on a small scale: every variant answers the chat with the
security headers, records its turns, and gets a CPU figure. Speed is never asserted."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select
from starlette.middleware.base import BaseHTTPMiddleware

import console.chat
import transcripts
from bench import door_cost
from console.app import SecurityHeadersMiddleware
from db.engine import make_engine, make_session_factory
from db.models import ConversationTurn


def test_the_before_app_is_the_old_middleware_and_the_after_app_the_new(tmp_path: Path) -> None:
    url, _user_id = door_cost._database(tmp_path)
    before = door_cost._app(url, tmp_path, before=True)
    after = door_cost._app(url, tmp_path, before=False)
    assert [m.cls for m in before.user_middleware].count(BaseHTTPMiddleware) == 1
    assert SecurityHeadersMiddleware not in [m.cls for m in before.user_middleware]
    assert SecurityHeadersMiddleware in [m.cls for m in after.user_middleware]


def test_a_small_ab_run_records_every_turn_and_measures_every_variant(tmp_path: Path) -> None:
    url, user_id = door_cost._database(tmp_path)
    results = asyncio.run(door_cost.console_ab(url, tmp_path, user_id, rounds=1, batch=2))
    results |= asyncio.run(door_cost.bot_record_ab(url, user_id, rounds=1, batch=2))

    variants = ("before", "middleware only", "after")
    expected = {f"console {auth} {v}" for auth in ("cookie", "basic") for v in variants}
    expected |= {"bot transcript write before", "bot transcript write after"}
    assert set(results) == expected
    assert all(value >= 0 for value in results.values())
    assert console.chat.store_turn is transcripts.store_turn  # the A/B put the real one back
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        # console: (3 warm + 2 measured) per variant and auth; bot: 2 warm + 2 per variant.
        assert session.scalar(select(func.count()).select_from(ConversationTurn)) == 6 * 5 + 2 + 4
    engine.dispose()
