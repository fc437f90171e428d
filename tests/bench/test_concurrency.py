"""The concurrency storm's quick mode (what `make test` runs; `python -m bench.concurrency` is 200
users on SQLite and PostgreSQL): users paying at once through the bot process, each tapping Confirm
twice and getting the first tap's update delivered again. Speed is never asserted."""

from __future__ import annotations

import asyncio

import pytest

from bench import concurrency
from bench.stack import BenchStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


def test_users_paying_at_once_with_double_taps_and_replays_are_charged_once_each(
    bench_stack: BenchStack,
) -> None:
    result = asyncio.run(concurrency.storm(bench_stack, concurrency.QUICK_USERS, label="storm-test"))

    assert result["succeeded_payments"] == concurrency.QUICK_USERS, result
    assert result["sandbox_succeeded"] == result["succeeded_payments"], result
    assert result["double_charges"] == 0 and result["charged_but_not_succeeded"] == 0, result
    assert result["payments_per_user_max"] == 1 and not result["stuck"], result
    assert result["unanswered"] == 0 and result["deadlocks_logged"] == 0, result
    assert result["ok"]
