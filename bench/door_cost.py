"""A/B in one process: the CPU one console chat request and one bot transcript write cost, before and
after issue 12's perf13 changes, alternating so that other load on the machine weighs on both alike.

- console: the real app (`console.app.create_app`) on a migrated SQLite file, a test user, a staff
  tester logged in with a cookie (and HTTP Basic), Rasa answered in-process (httpx.MockTransport)
  with a recorded-shape "hi" turn. "before" is the same app with the security headers added by a
  `@app.middleware("http")` function (Starlette's BaseHTTPMiddleware) and the turn recorded with
  `transcripts.record_turn` (which builds the redacted view staff read); "after" is the app as it is
  (a plain ASGI middleware; `transcripts.store_turn`, no redacted view).
  "middleware only" is "before" with `store_turn`: what the middleware alone costs.
- bot: the transcript write of one turn in a worker thread, as `bot.relay.record` does it:
  `record_turn` (before) against `store_turn` (after), on the same database.

CPU is `time.process_time()` (every thread of this process), per request or write; the report is
the median of `--rounds` rounds of `--batch` calls each. Usage:
`PYTHONPATH=. .venvs/app/bin/python -m bench.door_cost [--rounds 15] [--batch 40] [--out FILE.md]`.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request

import console.chat
import transcripts
from bench import environment
from console.app import SECURITY_HEADERS, SecurityHeadersMiddleware, create_app
from console.roles import Role
from console.services import ConsoleServices
from console.staff import create_staff_user
from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from db.models import User
from rasa_client import RasaClient
from settings import Settings

PASSWORD = "bench door cost password"
INTENTS = [
    "greet",
    "goodbye",
    "affirm",
    "deny",
    "pay_bill",
    "check_bills",
    "thank",
    "help",
    "stop",
    "chitchat",
]


def hi_turn(text: str = "hi") -> dict[str, Any]:
    """A plain "hi" turn shaped like the paychat channel's answer (contracts.md): replies, the parse
    with a ten-intent ranking, the slots, and this turn's events."""
    ranking = [{"name": n, "confidence": round(0.9 / (i + 1), 4)} for i, n in enumerate(INTENTS)]
    parse = {"intent": ranking[0], "entities": [], "ranking": ranking, "text": text, "message_id": "9f1c2"}
    reply = "Hi! I can pay your bills, show what you owe and set up autopay. What would you like to do?"
    events = [
        {"event": "user", "timestamp": 1.7e9, "text": text, "parse_data": parse, "input_channel": "paychat",
         "message_id": "9f1c2", "metadata": {"channel": "console"}},
        {"event": "user_featurization", "timestamp": 1.7e9, "use_text_for_featurization": False},
        {"event": "action", "timestamp": 1.7e9, "name": "utter_greet", "policy": "RulePolicy",
         "confidence": 1.0, "action_text": None, "hide_rule_turn": False},
        {"event": "bot", "timestamp": 1.7e9, "text": reply, "data": {"buttons": None, "custom": None},
         "metadata": {"utter_action": "utter_greet"}},
        {"event": "action", "timestamp": 1.7e9, "name": "action_listen", "policy": "RulePolicy",
         "confidence": 1.0, "action_text": None, "hide_rule_turn": False},
    ]  # fmt: skip
    slots = {"requested_slot": None, "bill_category": None, "amount": None, "pending_payment_id": None}
    return {
        "replies": [{"text": reply, "buttons": [], "custom": {}}],
        "parse": parse,
        "slots": slots,
        "events": events,
    }


def _database(folder: Path) -> tuple[str, int]:
    url = f"sqlite:///{folder / 'door-cost.db'}"
    upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine).begin() as session:
        create_staff_user(session, username="tester", password=PASSWORD, role=Role.TESTER)
        user = User(name="Door Cost Test", is_test=True, locale="en_IE", currency="EUR")
        session.add(user)
        session.flush()
        user_id = user.id
    engine.dispose()
    return url, user_id


def _app(url: str, folder: Path, *, before: bool) -> FastAPI:
    settings = Settings(
        _env_file=None,
        PAYCHAT_ENV="test",
        PAYCHAT_VAR_DIR=folder,
        DATABASE_URL=url,
        CONSOLE_SECRET_KEY=secrets.token_urlsafe(32),
        TUNING_DIR=str(folder / "tuning"),
    )
    body = json.dumps(hi_turn()).encode()
    rasa = RasaClient(
        "http://rasa.test",
        "s",
        5,
        transport=httpx.MockTransport(lambda _request: httpx.Response(200, content=body)),
    )
    services = ConsoleServices(session_factory=make_session_factory(make_engine(url)), assistant=rasa)
    app = create_app(settings, services)
    if before:  # the middleware as it was: a BaseHTTPMiddleware function (built on the first request)
        app.user_middleware = [m for m in app.user_middleware if m.cls is not SecurityHeadersMiddleware]

        async def security_headers(request: Request, call_next: Any) -> Any:
            response = await call_next(request)
            for name, value in SECURITY_HEADERS:
                response.headers.setdefault(name.decode(), value.decode())
            return response

        app.middleware("http")(security_headers)
    return app


async def _client(app: FastAPI, auth: str) -> tuple[httpx.AsyncClient, dict[str, str]]:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console.test")
    if auth == "basic":
        return client, {"Authorization": "Basic " + base64.b64encode(f"tester:{PASSWORD}".encode()).decode()}
    login = await client.post("/api/login", json={"username": "tester", "password": PASSWORD})
    login.raise_for_status()
    return client, {"X-CSRF-Token": login.json()["csrf_token"]}


def _recorder(before: bool) -> Any:
    return transcripts.record_turn if before else transcripts.store_turn


async def _cpu_per_call(call: Callable[[], Awaitable[None]], batch: int) -> float:
    started = time.process_time()
    for _ in range(batch):
        await call()
    return 1000 * (time.process_time() - started) / batch


async def console_ab(url: str, folder: Path, user_id: int, rounds: int, batch: int) -> dict[str, Any]:
    """CPU ms per POST /api/chat, before and after, cookie and Basic."""
    samples: dict[str, list[float]] = {}
    for auth in ("cookie", "basic"):
        variants = {}
        for label in ("before", "middleware only", "after"):
            app = _app(url, folder, before=label != "after")
            client, headers = await _client(app, auth)
            body = {"session": f"cost-{auth}-{label.split()[0]}", "text": "hi", "user_id": user_id}

            async def call(
                client: httpx.AsyncClient = client,
                headers: dict[str, str] = headers,
                body: dict[str, Any] = body,
                label: str = label,
            ) -> None:
                console.chat.store_turn = _recorder(label == "before")  # type: ignore[attr-defined]
                response = await client.post("/api/chat", json=body, headers=headers)
                response.raise_for_status()

            for _ in range(3):  # warm: imports (spaCy for the redacted view), connections, caches
                await call()
            variants[label] = (client, call)
        for _ in range(rounds):
            for label, (_, call) in variants.items():
                samples.setdefault(f"console {auth} {label}", []).append(await _cpu_per_call(call, batch))
        for client, _call in variants.values():
            await client.aclose()
    console.chat.store_turn = transcripts.store_turn  # type: ignore[attr-defined]
    return {k: round(statistics.median(v), 2) for k, v in samples.items()}


async def bot_record_ab(url: str, user_id: int, rounds: int, batch: int) -> dict[str, Any]:
    """CPU ms per transcript write of a bot turn (in a worker thread, as bot.relay.record does)."""
    session_factory = make_session_factory(make_engine(url))
    turn = hi_turn("hello")
    samples: dict[str, list[float]] = {}

    def write(recorder: Any) -> None:
        with session_factory.begin() as session:
            recorder(
                session,
                sender_id="tg-424242",
                channel="telegram",
                user_id=user_id,
                is_test=False,
                user_text="hello",
                turn=turn,
            )

    for label in ("before", "after"):
        await asyncio.to_thread(write, _recorder(label == "before"))
    for _ in range(rounds):
        for label in ("before", "after"):
            recorder = _recorder(label == "before")

            async def call(recorder: Any = recorder) -> None:
                await asyncio.to_thread(write, recorder)

            samples.setdefault(f"bot transcript write {label}", []).append(await _cpu_per_call(call, batch))
    return {k: round(statistics.median(v), 2) for k, v in samples.items()}


def markdown(report: dict[str, Any]) -> str:
    """The before/after table."""
    lines = [
        "# Door cost A/B in one process (CPU ms per call)",
        "",
        *environment.header_lines(report["environment"]),
    ]
    lines += [
        "",
        "| what | before | before's middleware, `store_turn` | after | saved |",
        "| --- | --- | --- | --- | --- |",
    ]
    results = report["results"]
    for key in [k for k in results if k.endswith(" before")]:
        what = key.removesuffix(" before")
        before, after = results[key], results[f"{what} after"]
        middle = results.get(f"{what} middleware only", "")
        saved = round(before - after, 2)
        lines.append(
            f"| {what} | {before} | {middle} | {after} | {saved} ({round(100 * saved / before)} %) |"
        )
    lines.append("")
    return "\n".join(lines)


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--batch", type=int, default=40)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    env = environment.describe(sys.argv)
    with tempfile.TemporaryDirectory(prefix="paychat-door-cost-") as tmp:
        folder = Path(tmp)
        url, user_id = _database(folder)
        results = asyncio.run(console_ab(url, folder, user_id, args.rounds, args.batch))
        results |= asyncio.run(bot_record_ab(url, user_id, args.rounds, args.batch))
    report = {"environment": environment.finish(env), "results": results}
    text = markdown(report)
    if args.out is not None:
        args.out.write_text(text)
        args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    print(text)


if __name__ == "__main__":
    main()
