"""What a plain turn costs the Rasa process: bare Rasa's REST channel against paychat's channel.

Runs in the Rasa env, in rasa_project/ (it imports `channels.*` and `privacy.cards`):

    cd rasa_project && PYTHONPATH=.:.. ../.venvs/rasa/bin/python ../bench/rasa_turn_cost.py MODEL.tar.gz

One agent (the trained model) answers "hi" turns through two doors, in alternating rounds (ABAB...)
so that other work on a shared machine falls on both alike:

- `bare`: Rasa's own `RestInput` webhook handler, Rasa's in-memory tracker store (what bare Rasa in
  the whole-path benchmark runs);
- `paychat_rasa_write`: the same, with the store's writes as before perf14 (Rasa's own `save`: an ORM
  count query and one ORM object per new event), to measure that change in the same run;
- `paychat`: paychat's channel (`channels.paychat_channel.PaychatInput`'s webhook handler: secret,
  card-number check, the turn's details, its JSON log line) over `PaychatSQLTrackerStore` on a new
  SQLite file, wrapped in Rasa's FailSafeTrackerStore as `rasa run` does.

Each round plays `--senders` conversations of `--turns` turns (a sender's first turn starts its
session; later rounds continue the same conversations, as the bench's users do). The handlers are
called directly with a stand-in request (no HTTP: Sanic's request parsing is the same for both
doors); `sanic.response.json` serialises the answer as it would. Prints one JSON line: per door the
median CPU (`time.process_time`) and wall milliseconds per turn over the rounds. `--profile FILE`
writes a cProfile of the paychat door's turns (pstats) instead of timing.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")

SECRET = "bench-secret"


class _Request(SimpleNamespace):
    """What the two webhook handlers read from a Sanic request."""

    def __init__(self, agent: Any, body: dict[str, Any], headers: dict[str, str]) -> None:
        super().__init__(
            app=SimpleNamespace(ctx=SimpleNamespace(agent=agent)), json=body, headers=headers, args={}
        )


def _handler(blueprint: Any, uri: str) -> Any:
    """The route function registered for `uri` on a channel's blueprint."""
    for route in blueprint._future_routes:
        if route.uri == uri and "POST" in route.methods:
            return route.handler
    raise LookupError(uri)


async def _round(door: dict[str, Any], senders: int, turns: int, tag: str) -> tuple[float, float]:
    """CPU and wall milliseconds per turn for one round through `door`."""
    agent = door["agent"]
    agent.tracker_store = agent.processor.tracker_store = door["store"]
    wall, cpu = time.perf_counter(), time.process_time()
    for _turn in range(turns):
        for n in range(senders):
            body = {"sender": f"{tag}-{n}", "message": "hi", **door["extra"]}
            answer = await door["handler"](_Request(agent, body, door["headers"]))
            if answer.status != 200:
                raise RuntimeError(f"{door['name']}: {answer.status} {answer.body[:200]!r}")
    done = senders * turns
    return (time.process_time() - cpu) * 1000 / done, (time.perf_counter() - wall) * 1000 / done


def _doors(model: str, folder: Path) -> list[dict[str, Any]]:
    """The agent and the two doors (handler, tracker store, headers and body extras)."""
    from channels.paychat_channel import SECRET_HEADER, TIMEOUT_HEADER, PaychatInput
    from channels.tracker_store import PaychatSQLTrackerStore
    from rasa.core.agent import Agent
    from rasa.core.channels.rest import RestInput
    from rasa.core.tracker_store import FailSafeTrackerStore, InMemoryTrackerStore, SQLTrackerStore

    class RasaWriteStore(PaychatSQLTrackerStore):
        """The store as before perf14: Rasa's own save (ORM count query, one ORM object per event)."""

        async def _write(self, tracker: Any) -> None:
            await SQLTrackerStore.save(self, tracker)

        def _additional_events(self, session: Any, tracker: Any) -> Any:
            events = SQLTrackerStore._additional_events(self, session, tracker)
            cutoff = self._cutoff(session, tracker.sender_id)
            return events if cutoff is None else (e for e in events if (e.timestamp or 0) >= cutoff)

    agent = Agent.load(model)
    domain = agent.domain
    on_new_message = agent.handle_message
    bare_store = FailSafeTrackerStore(InMemoryTrackerStore(domain))
    paychat_store = FailSafeTrackerStore(
        PaychatSQLTrackerStore(domain, dialect="sqlite", db=str(folder / "tracker.db"))
    )
    before_store = FailSafeTrackerStore(
        RasaWriteStore(domain, dialect="sqlite", db=str(folder / "before.db"))
    )
    channel = PaychatInput.from_credentials({"secret": SECRET})
    logging.getLogger("channels.paychat_channel").handlers[0].stream = open(os.devnull, "w")  # noqa: SIM115
    return [
        {
            "name": "bare",
            "agent": agent,
            "store": bare_store,
            "handler": _handler(RestInput().blueprint(on_new_message), "/webhook"),
            "headers": {},
            "extra": {},
        },
        {
            "name": "paychat",
            "agent": agent,
            "store": paychat_store,
            "handler": _handler(channel.blueprint(on_new_message), "/webhook"),
            "headers": {SECRET_HEADER: SECRET, TIMEOUT_HEADER: "30"},
            "extra": {"metadata": {"channel": "telegram"}},
        },
        {
            "name": "paychat_rasa_write",
            "agent": agent,
            "store": before_store,
            "handler": _handler(channel.blueprint(on_new_message), "/webhook"),
            "headers": {SECRET_HEADER: SECRET, TIMEOUT_HEADER: "30"},
            "extra": {"metadata": {"channel": "telegram"}},
        },
    ]


async def main() -> None:
    """Alternate the two doors for `--rounds` rounds and print the medians (or profile paychat's)."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("model")
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument("--turns", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--profile", help="write a cProfile (pstats) of the paychat door's rounds here")
    args = parser.parse_args()
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    # As `rasa run` configures logging (INFO unless --debug), so debug lines cost what they cost there.
    configure_logging_and_warnings(logging.INFO, warn_only_once=True, filter_repeated_logs=True)
    configure_structlog(logging.INFO)
    doors = _doors(args.model, Path(tempfile.mkdtemp(prefix="rasa-turn-cost-")))
    for door in doors:  # warm-up: first turns, imports, caches
        await _round(door, args.senders, 1, "warm")
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _number in range(args.rounds):
            await _round(doors[1], args.senders, args.turns, "prof")
        profiler.disable()
        profiler.dump_stats(args.profile)
        return
    samples: dict[str, dict[str, list[float]]] = {d["name"]: {"cpu": [], "wall": []} for d in doors}
    for number in range(args.rounds):
        for door in doors[number % len(doors) :] + doors[: number % len(doors)]:
            cpu, wall = await _round(door, args.senders, args.turns, "conv")
            samples[door["name"]]["cpu"].append(cpu)
            samples[door["name"]]["wall"].append(wall)
    summary = {
        name: {k: round(statistics.median(v), 2) for k, v in kinds.items()} for name, kinds in samples.items()
    }
    for name in ("paychat", "paychat_rasa_write"):
        summary[f"{name}_extra_cpu_ms"] = round(summary[name]["cpu"] - summary["bare"]["cpu"], 2)
    print(
        json.dumps(
            {
                "turns_per_round": args.senders * args.turns,
                "rounds": args.rounds,
                "load_average": os.getloadavg(),
                **summary,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
