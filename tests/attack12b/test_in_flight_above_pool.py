"""attack12b: RASA_MAX_IN_FLIGHT has no upper bound (settings: ge=1 only), but the client's HTTP pool
holds 256 connections (rasa_client.POOL_LIMITS) and its pool timeout is RASA_TIMEOUT_SECONDS
(httpx.Timeout(timeout_seconds, connect=3.0)).

So with RASA_MAX_IN_FLIGHT above 256, a call "holding a slot" in fact queues for a connection inside
httpx, and that wait counts against the Rasa timeout: the issue-12 failure the admission control
claims to remove ("time spent waiting for a slot does not count against the Rasa timeout"), reported
as "Rasa server unreachable: PoolTimeout" (not processed) although Rasa answered every call in time.

Seen once by hand against tests/rasa_client/standin.py (RASA_MAX_IN_FLIGHT=520, 520 calls, Rasa
0.6 s per call, timeout 1 s): 264 of 520 calls failed with PoolTimeout. That run needs hundreds of
loopback connections and is too load-sensitive on a shared machine to be a test, so the test
checks the invariant that rules it out: a slot never waits for a pooled connection on the clock.
"""

from __future__ import annotations

import asyncio

from rasa_client import POOL_LIMITS, RasaClient
from settings import Settings


def test_a_call_holding_a_slot_never_waits_for_a_pooled_connection_on_the_rasa_clock() -> None:
    settings = Settings(_env_file=None, RASA_MAX_IN_FLIGHT=1000)  # accepted today
    client = RasaClient.from_settings(settings)
    try:
        pool = POOL_LIMITS.max_connections
        slots = client.admission.max_in_flight
        pool_timeout = client._http.timeout.pool
    finally:
        asyncio.run(client.aclose())
    assert pool is None or slots <= pool or pool_timeout is None, (slots, pool, pool_timeout)
