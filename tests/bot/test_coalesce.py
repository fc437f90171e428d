"""bot.coalesce: one lookup per key at a time (SingleFlight), the latest value per key written one
write at a time (LatestWins). Plain asyncio: these helpers know nothing of Telegram."""

from __future__ import annotations

import asyncio

import pytest

from bot.coalesce import LatestWins, SingleFlight


async def test_callers_of_one_key_share_the_call_in_flight_and_a_later_caller_calls_again() -> None:
    flight: SingleFlight[int, str] = SingleFlight()
    calls: list[int] = []
    release = asyncio.Event()

    async def look_up() -> str:
        calls.append(1)
        await release.wait()
        return "found"

    waiting = [asyncio.create_task(flight.run(7, look_up)) for _ in range(20)]
    await asyncio.sleep(0.01)
    release.set()
    assert await asyncio.gather(*waiting) == ["found"] * 20
    assert len(calls) == 1
    await asyncio.sleep(0)
    assert await flight.run(7, look_up) == "found"
    assert len(calls) == 2


async def test_a_failed_call_fails_every_caller_and_the_next_caller_tries_again() -> None:
    flight: SingleFlight[int, str] = SingleFlight()
    failures = iter([True, False])

    async def look_up() -> str:
        await asyncio.sleep(0.01)
        if next(failures):
            raise ConnectionError("database down")
        return "found"

    results = await asyncio.gather(*(flight.run(1, look_up) for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    await asyncio.sleep(0)
    assert await flight.run(1, look_up) == "found"


async def test_values_that_come_while_a_write_runs_are_replaced_by_the_latest() -> None:
    latest: LatestWins[int, bool] = LatestWins()
    written: list[bool] = []

    async def write(value: bool) -> None:
        await asyncio.sleep(0.02)
        written.append(value)

    first = asyncio.create_task(latest.put(1, True, order=1, write=write))
    await asyncio.sleep(0.005)  # its write runs
    await asyncio.gather(first, *(latest.put(1, n % 2 == 1, order=n, write=write) for n in range(2, 101)))
    assert written == [True, False]  # the first, then the newest of the 99 that came meanwhile
    assert not latest.busy()


async def test_an_older_value_that_comes_late_is_not_written() -> None:
    latest: LatestWins[int, str] = LatestWins()
    written: list[str] = []

    async def write(value: str) -> None:
        written.append(value)

    await latest.put(1, "unblocked", order=12, write=write)
    await latest.put(1, "blocked", order=11, write=write)  # an earlier update whose handler ran late
    await latest.put(2, "blocked", order=5, write=write)  # another key has its own order
    assert written == ["unblocked", "blocked"]


async def test_a_failed_write_is_superseded_by_a_newer_value_or_raised_to_its_callers() -> None:
    latest: LatestWins[int, str] = LatestWins()
    written: list[str] = []

    async def write(value: str) -> None:
        await asyncio.sleep(0.02)
        if value == "fails":
            raise ConnectionError("database down")
        written.append(value)

    await asyncio.gather(latest.put(1, "fails", 1, write), latest.put(1, "kept", 2, write))
    assert written == ["kept"]
    with pytest.raises(ConnectionError):
        await latest.put(1, "fails", 3, write)
    assert not latest.busy()


async def test_a_value_without_order_is_written_only_if_nothing_newer_was_taken_meanwhile() -> None:
    latest: LatestWins[int, str] = LatestWins()
    written: list[str] = []

    async def write(value: str) -> None:
        written.append(value)

    seen = latest.last(3)
    assert seen is None
    await latest.put(3, "unblocked", 10, write)  # taken while the caller's send ran
    await latest.put_if_unchanged(3, "blocked", seen, write)
    assert written == ["unblocked"]

    seen = latest.last(3)
    await latest.put_if_unchanged(3, "blocked", seen, write)  # nothing newer since: written
    assert written == ["unblocked", "blocked"]
    await latest.put(3, "unblocked again", 11, write)  # a later update still wins
    assert written[-1] == "unblocked again"
