"""Admission control in the Rasa client (issue 12): a bound on calls at Rasa per process, the wait
for a slot not counted against the Rasa timeout, a full queue refused unsent with a clear error.

Against a stand-in Rasa channel over real HTTP (tests/rasa_client/standin.py); no timing asserted:
the checks are on counts, and on which calls were answered or refused.
"""

from __future__ import annotations

import asyncio

import pytest

from rasa_client import AssistantBusyError, AssistantUnavailableError, RasaClient
from settings import Settings
from tests.rasa_client.standin import standin_rasa


async def test_never_more_than_max_in_flight_calls_reach_rasa_and_every_call_is_answered() -> None:
    async with standin_rasa(seconds=0.05) as rasa:
        client = RasaClient(rasa.url, "s", 30.0, max_in_flight=3, max_waiting=100)
        try:
            turns = await asyncio.gather(*(client.send(f"u{i}", f"m{i}") for i in range(20)))
        finally:
            await client.aclose()
    assert [t.replies[0].text for t in turns] == [f"echo: m{i}" for i in range(20)]
    assert rasa.peak == 3  # the bound was reached and held, at Rasa's side of the wire
    assert client.admission.peak_in_flight == 3
    assert client.admission.in_flight == client.admission.waiting == 0


async def test_a_call_queued_for_a_slot_is_not_timed_out_while_an_unanswered_one_is() -> None:
    # Rasa answers one call at a time, 0.4 s each; the client's timeout is 1.5 s. Eight calls sent
    # at once to Rasa would queue inside it and the last ones time out (3.2 s); queued on our side
    # (one in flight) each call waits for its slot, then Rasa answers it within 0.4 s.
    async with standin_rasa(seconds=0.4, serial=True) as rasa:
        # The queue-wait bound (RASA_MAX_QUEUE_WAIT_SECONDS) is set far away: this test is about
        # the Rasa clock, and a loaded machine must not turn a slow queue into a refusal here.
        client = RasaClient(
            rasa.url, "s", 1.5, max_in_flight=1, max_waiting=100, max_queue_wait_seconds=120.0
        )
        try:
            turns = await asyncio.gather(*(client.send("u", f"m{i}") for i in range(8)))
        finally:
            await client.aclose()
    assert len(turns) == 8
    assert rasa.received == [f"m{i}" for i in range(8)]  # first come, first served: in order

    never = asyncio.Event()
    async with standin_rasa(hold=never) as silent:  # a call Rasa does not answer times out
        client = RasaClient(silent.url, "s", 0.5, max_in_flight=1, max_waiting=100)
        try:
            with pytest.raises(AssistantUnavailableError) as raised:
                await client.send("u", "lost in Rasa")
        finally:
            never.set()  # let the stand-in's handler end, so the server stops at once
            await client.aclose()
    assert not isinstance(raised.value, AssistantBusyError)


async def test_without_the_bound_the_same_calls_time_out() -> None:
    # The check above can fail: with everything in flight at once, a saturated Rasa times them out.
    async with standin_rasa(seconds=0.4, serial=True) as rasa:
        client = RasaClient(rasa.url, "s", 1.5, max_in_flight=8, max_waiting=100)
        try:
            results = await asyncio.gather(
                *(client.send("u", f"m{i}") for i in range(8)), return_exceptions=True
            )
        finally:
            await client.aclose()
    assert any(isinstance(r, AssistantUnavailableError) for r in results)


async def test_a_call_beyond_a_full_queue_is_refused_unsent_and_the_others_are_answered() -> None:
    release = asyncio.Event()
    async with standin_rasa(hold=release) as rasa:
        client = RasaClient(rasa.url, "s", 30.0, max_in_flight=1, max_waiting=2)
        try:
            first = asyncio.create_task(client.send("a", "first"))
            queued = [asyncio.create_task(client.send(s, s)) for s in ("b", "c")]
            for _ in range(500):  # until one is at Rasa and two are queued behind it
                if client.admission.waiting == 2:
                    break
                await asyncio.sleep(0.01)
            with pytest.raises(AssistantBusyError):
                await client.send("d", "one too many")
            release.set()
            answered = await asyncio.gather(first, *queued)
        finally:
            await client.aclose()
    assert "one too many" not in rasa.received  # refused before anything was sent
    assert [t.replies[0].text for t in answered] == ["echo: first", "echo: b", "echo: c"]


def test_the_bound_and_the_queue_come_from_settings() -> None:
    settings = Settings(
        _env_file=None, RASA_MAX_IN_FLIGHT=5, RASA_MAX_WAITING=7, RASA_MAX_QUEUE_WAIT_SECONDS=9.5
    )
    client = RasaClient.from_settings(settings)
    admission = client.admission
    assert (admission.max_in_flight, admission.max_waiting, admission.max_wait_seconds) == (5, 7, 9.5)
    asyncio.run(client.aclose())
