"""What the tracker store costs Rasa per turn: Rasa's SQLTrackerStore against paychat's (WAL).

Runs in the Rasa env, in rasa_project/ (it loads domain.yml and `channels.tracker_store`):

    cd rasa_project && PYTHONPATH=.:.. ../.venvs/rasa/bin/python ../bench/tracker_store_cost.py

Plays what Rasa's processor does to the store for one message — `retrieve` the conversation, add
the turn's events (the user message, an utterance, action_listen), `save` — for `--senders`
conversations of `--turns` turns each, once with each store on its own new SQLite file, in
rotating rounds (ABC, BCA, ...) so that other work on a shared machine falls on all alike. Stores:
Rasa's `SQLTrackerStore`, paychat's, and paychat's with its writes as before perf14
(`RasaWriteStore`: Rasa's own save, an ORM count and one ORM object per event). Prints, per
store, the median wall time per turn (what the event loop is blocked for: Rasa runs the store's
SQL on it) and the process's CPU time per turn, in milliseconds, as one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from channels.tracker_store import PaychatSQLTrackerStore
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker


class RasaWriteStore(PaychatSQLTrackerStore):
    """paychat's store with its writes as before perf14: Rasa's own `save` (an ORM count query over
    the session's events, one ORM object per new event), the tombstone filter kept."""

    async def _write(self, tracker: DialogueStateTracker) -> None:
        await SQLTrackerStore.save(self, tracker)

    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Any:
        events = SQLTrackerStore._additional_events(self, session, tracker)
        cutoff = self._cutoff(session, tracker.sender_id)
        return events if cutoff is None else (e for e in events if (e.timestamp or 0) >= cutoff)


async def _round(store: Any, domain: Domain, senders: int, turns: int, tag: str) -> tuple[float, float]:
    """Wall and CPU milliseconds per turn for one round of `senders` x `turns` turns."""
    wall_started, cpu_started = time.perf_counter(), time.process_time()
    for _turn in range(turns):
        for n in range(senders):
            sender = f"{tag}-{n}"
            tracker = await store.retrieve(sender) or DialogueStateTracker(sender, domain.slots)
            tracker.update(UserUttered("hi", {"name": "greet", "confidence": 1.0}))
            tracker.update(ActionExecuted("utter_greet"))
            tracker.update(BotUttered("Hello! How can I help?"))
            tracker.update(ActionExecuted("action_listen"))
            await store.save(tracker)
    done = senders * turns
    return (time.perf_counter() - wall_started) * 1000 / done, (
        time.process_time() - cpu_started
    ) * 1000 / done


async def main() -> None:
    """Alternate the two stores for `--rounds` rounds and print the medians."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--senders", type=int, default=10)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    domain = Domain.load("domain.yml")
    folder = Path(tempfile.mkdtemp(prefix="tracker-cost-"))
    stores = {
        "rasa_sql": SQLTrackerStore(domain, dialect="sqlite", db=str(folder / "rasa.db")),
        "paychat_wal": PaychatSQLTrackerStore(domain, dialect="sqlite", db=str(folder / "paychat.db")),
        "paychat_wal_rasa_write": RasaWriteStore(domain, dialect="sqlite", db=str(folder / "rasa_write.db")),
    }
    samples: dict[str, dict[str, list[float]]] = {name: {"wall": [], "cpu": []} for name in stores}
    names = list(stores)
    for number in range(args.rounds):
        for name in names[number % len(names) :] + names[: number % len(names)]:
            store = stores[name]
            wall, cpu = await _round(store, domain, args.senders, args.turns, f"r{number}")
            samples[name]["wall"].append(wall)
            samples[name]["cpu"].append(cpu)
    print(
        json.dumps(
            {
                "turns_per_round": args.senders * args.turns,
                "rounds": args.rounds,
                **{
                    name: {kind: round(statistics.median(values), 3) for kind, values in kinds.items()}
                    for name, kinds in samples.items()
                },
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
