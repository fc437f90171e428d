"""Admission control for calls to Rasa: at most `max_in_flight` at once per process, the rest wait.

Why: Rasa answers one process's turns about as fast with 16 in flight as with 100, but with 100 in
flight each turn takes 100 turns' time, so a turn that was only queued inside Rasa ran into the
client's timeout and was reported as failed although Rasa was fine (issue 12: 98 Telegram and 29
console errors at 100 users paying at once). Here the queue is in front of Rasa, on our side: time
spent waiting for a slot does not count against the Rasa timeout (`RasaClient` starts its timeout
only once a slot is held), so only a call that Rasa itself leaves unanswered times out.

The queue is bounded (`max_waiting`): a call that finds it full is refused at once with
`AssistantBusyError`, before anything is sent, so the caller can say truthfully that the message
was not processed yet and keep it for a retry. So is the wait (`max_wait_seconds`): a call that did
not get a slot in time is refused the same way, unsent, rather than acted on when the user has long
given up (attack12b: with Rasa hanging, the 1000th queued message would go out 31 minutes late).
Waiters are served first come, first served (asyncio.Semaphore is FIFO), so one chat's messages,
sent one after another, stay in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from rasa_client.errors import AssistantBusyError


class Admission:
    """A bound on concurrent calls (`max_in_flight` ≥ 1) with a bounded wait queue (`max_waiting` ≥ 0
    calls, each waiting at most `max_wait_seconds` > 0)."""

    def __init__(self, max_in_flight: int, max_waiting: int, max_wait_seconds: float) -> None:
        if max_in_flight < 1 or max_waiting < 0 or not max_wait_seconds > 0:
            raise ValueError("max_in_flight must be ≥ 1, max_waiting ≥ 0 and max_wait_seconds > 0")
        self.max_in_flight = max_in_flight
        self.max_waiting = max_waiting
        self.max_wait_seconds = max_wait_seconds
        self._slots = asyncio.Semaphore(max_in_flight)
        self.in_flight = 0  # calls holding a slot now
        self.waiting = 0  # calls queued for a slot now
        self.peak_in_flight = 0  # the most calls that held a slot at once (tests, metrics)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one slot for the block; wait up to `max_wait_seconds` for it when all are taken.

        Raises AssistantBusyError, holding nothing, at once when `max_waiting` calls already wait,
        or after `max_wait_seconds` without a slot: the block does not run (nothing is sent).
        """
        if (self._slots.locked() or self.waiting) and self.waiting >= self.max_waiting:
            raise AssistantBusyError(
                f"{self.in_flight} calls to Rasa in flight and {self.waiting} waiting; not sent"
            )
        self.waiting += 1
        try:
            async with asyncio.timeout(self.max_wait_seconds):
                await self._slots.acquire()
        except TimeoutError:
            raise AssistantBusyError(
                f"no slot for Rasa within {self.max_wait_seconds} s ({self.in_flight} in flight); not sent"
            ) from None
        finally:
            self.waiting -= 1
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        try:
            yield
        finally:
            self.in_flight -= 1
            self._slots.release()
