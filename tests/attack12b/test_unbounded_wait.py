"""attack12b: the wait for a slot has no bound at all (rasa_client.admission: "wait (without limit)").

When Rasa stops answering, each of the 16 slots is held a full RASA_TIMEOUT_SECONDS (30 s) per call,
so with up to RASA_MAX_WAITING=1000 queued the last message goes to Rasa about 1000/16 x 30 s = 31
minutes after the user sent it (under "typing…"), and is then acted on: a "pay it" or a Confirm tap
the user long gave up on is executed half an hour late, and the console's request hangs as long.
Here: one slot, a Rasa that never answers, a 0.5 s timeout; the fourth message has waited three
timeouts before it is sent anyway instead of being refused unsent (busy) or expired.
"""

from __future__ import annotations

import asyncio

from rasa_client import AssistantUnavailableError, RasaClient
from tests.rasa_client.standin import standin_rasa


async def test_a_message_queued_longer_than_the_rasa_timeout_is_not_sent_late() -> None:
    never = asyncio.Event()
    async with standin_rasa(hold=never) as rasa:
        client = RasaClient(rasa.url, "s", 0.5, max_in_flight=1, max_waiting=100)
        try:
            results = await asyncio.gather(
                *(client.send(f"u{i}", f"m{i}") for i in range(4)), return_exceptions=True
            )
        finally:
            never.set()
            await client.aclose()
    assert all(isinstance(r, AssistantUnavailableError) for r in results)
    assert rasa.received[0] == "m0"
    # m3 waited three full timeouts (m0, m1, m2 each held the slot 0.5 s): it is stale by then.
    assert "m3" not in rasa.received, rasa.received
