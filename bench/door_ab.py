"""A/B of a door's CPU per plain turn: the bot (`python -m bot`) or the console (`python -m console`)
of two source trees, run side by side as real processes, in alternating rounds.

Each tree's door runs as `make run` starts it, on its own SQLite database (migrated, with test
users; the console also with a tester account, logged in once per user with a cookie), against a
stand-in Rasa: a small aiohttp server in this process that answers every message with a plain "hi"
turn shaped like the paychat channel's answer (`bench.door_cost.hi_turn`). Telegram is the fake Bot
API (testing/fake_telegram.py), also in this process. So the measured process does what it does for
a real plain turn — polling, handling the update, the HTTP call to Rasa, the reply, the transcript
write — and nothing else is charged to it.

A round plays `--turns` turns with `--users` users at once through one tree's door, waits
`--settle` seconds (the bot writes its transcript after replying), and reads the door process's
user + system CPU (psutil) before and after; the trees alternate (ABBA...) for `--rounds` rounds,
so other work on the machine falls on both alike. The report is the median CPU ms per turn.

Usage: `PYTHONPATH=. .venvs/app/bin/python -m bench.door_ab --door bot --before /tmp/before-tree
[--after .] [--rounds 12] [--turns 40] [--users 4] [--out FILE.md]`; make the "before" tree with
`git archive <commit> | tar -x -C /tmp/before-tree`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from aiohttp import web

from bench import environment
from bench.door_cost import hi_turn
from bench.paths import Console, Telegram
from bench.users import BenchUser
from console.roles import Role
from console.staff import create_staff_user
from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from db.models import User
from scripts import procs
from testing.fake_telegram import FakeTelegram
from testing.loop import BackgroundLoop

SECRET = "door-ab-secret"
TESTER = ("door_ab_tester", "door ab tester password")


async def _rasa_standin() -> tuple[web.AppRunner, str]:
    """The stand-in Rasa: every message gets the same plain "hi" turn."""
    body = json.dumps(hi_turn()).encode()

    async def webhook(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(body=body, content_type="application/json")

    app = web.Application()
    app.router.add_post("/webhooks/paychat/webhook", webhook)
    app.router.add_get("/webhooks/paychat/health", lambda _r: web.json_response({"status": "ok"}))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = procs.free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


def _database(folder: Path, users: int, first_telegram_id: int) -> tuple[str, list[BenchUser]]:
    """A migrated SQLite database with the tester account and `users` test users."""
    url = f"sqlite:///{folder / 'paychat.db'}"
    upgrade(url)
    engine = make_engine(url)
    made = []
    with make_session_factory(engine).begin() as session:
        create_staff_user(session, username=TESTER[0], password=TESTER[1], role=Role.TESTER)
        for n in range(users):
            telegram_id = first_telegram_id + n
            user = User(
                telegram_user_id=telegram_id, name=f"Door {n}", locale="en_IE", currency="EUR", is_test=True
            )
            session.add(user)
            session.flush()
            made.append(BenchUser(user_id=user.id, telegram_user_id=telegram_id))
    engine.dispose()
    return url, made


@dataclass
class Variant:
    """One tree's door process and how to drive it."""

    name: str
    process: psutil.Process
    path: Any
    users: list[BenchUser]


def _start(
    supervisor: procs.Supervisor,
    door: str,
    name: str,
    tree: Path,
    folder: Path,
    rasa_url: str,
    users: int,
    fake: FakeTelegram | None,
    first_telegram_id: int,
) -> tuple[psutil.Process, list[BenchUser], str | None]:
    """Start the door of `tree` on a database of its own; its process, users and console URL."""
    folder.mkdir(parents=True)
    url, made = _database(folder, users, first_telegram_id)
    env = {
        "PYTHONPATH": str(tree),
        "PAYCHAT_ENV": "test",
        "PAYCHAT_VAR_DIR": str(folder),
        "DATABASE_URL": url,
        "RASA_URL": rasa_url,
        "RASA_SHARED_SECRET": SECRET,
        "REDIS_URL": "",
        "PAYCHAT_DEMO_MODE": "false",
    }
    python = str(procs.APP_PYTHON)
    if door == "bot":
        assert fake is not None
        env |= {"TELEGRAM_BOT_TOKEN": fake.token, "TELEGRAM_API_BASE": fake.base_url}
        spec = procs.ProcessSpec(
            name=f"bot-{name}", argv=[python, "-m", "bot"], cwd=tree, env=env, ready_timeout=5
        )
        console_url = None
    else:
        port = procs.free_port()
        env |= {"CONSOLE_PORT": str(port), "CONSOLE_SECRET_KEY": secrets.token_urlsafe(24)}
        console_url = f"http://127.0.0.1:{port}"
        spec = procs.ProcessSpec(
            name=f"console-{name}",
            argv=[python, "-m", "console"],
            cwd=tree,
            env=env,
            health_url=f"{console_url}/healthz",
            ready_timeout=60,
        )
    running = supervisor.start(spec)
    return psutil.Process(running.popen.pid), made, console_url


def _cpu_ms(process: psutil.Process) -> float:
    times = process.cpu_times()
    return 1000 * (times.user + times.system + times.children_user + times.children_system)


async def _play(variant: Variant, turns: int, tag: str) -> None:
    """`turns` plain turns, the variant's users at once, each user's turns one after another."""
    per_user = max(turns // len(variant.users), 1)

    async def one(user: BenchUser) -> None:
        for _ in range(per_user):
            await variant.path.send(user, tag, "hi", False)

    await asyncio.gather(*(one(u) for u in variant.users))


async def _measure(variants: list[Variant], args: argparse.Namespace) -> dict[str, list[float]]:
    samples: dict[str, list[float]] = {v.name: [] for v in variants}
    for variant in variants:  # warm-up: first turns (connections, imports, the user known)
        await _play(variant, 2 * len(variant.users), "warm")
    await asyncio.sleep(args.settle)
    turns = max(args.turns // args.users, 1) * args.users
    for number in range(args.rounds):
        for variant in variants if number % 2 == 0 else variants[::-1]:
            started = _cpu_ms(variant.process)
            await _play(variant, turns, "ab")
            await asyncio.sleep(args.settle)
            samples[variant.name].append((_cpu_ms(variant.process) - started) / turns)
        print(
            f"round {number + 1}/{args.rounds}: " + ", ".join(f"{k} {v[-1]:.2f}" for k, v in samples.items()),
            file=sys.stderr,
        )
    return samples


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start both doors, alternate rounds, return the medians."""
    runner, rasa_url = await _rasa_standin()
    trees = {"before": args.before, "after": args.after}
    loop = BackgroundLoop("fake-telegram") if args.door == "bot" else None
    fakes: list[FakeTelegram] = []
    try:
        with (
            tempfile.TemporaryDirectory(prefix="door-ab-") as tmp,
            procs.supervised(Path(tmp) / "log", procs.base_env()) as supervisor,
        ):
            variants = []
            for number, (name, tree) in enumerate(trees.items()):
                fake = None
                if loop is not None:
                    fake = FakeTelegram(token=f"12345{number}:DOOR-AB-token")
                    loop.run(fake.start())
                    fakes.append(fake)
                first_id = 880000 + 1000 * number
                process, users, console_url = _start(
                    supervisor, args.door, name, tree, Path(tmp) / name, rasa_url, args.users, fake, first_id
                )
                if fake is not None:
                    path: Any = Telegram(_FakeStack(fake, loop))  # type: ignore[arg-type]
                else:
                    assert console_url is not None
                    path = Console(console_url, cookie=True, login=TESTER)
                    await path.log_in(users)
                variants.append(Variant(name, process, path, users))
            samples = await _measure(variants, args)
            for variant in variants:
                await variant.path.aclose()
    finally:
        if loop is not None:
            for fake in fakes:
                loop.run(fake.stop())
            loop.close()
        await runner.cleanup()
    medians = {name: round(statistics.median(values), 2) for name, values in samples.items()}
    paired = [b - a for b, a in zip(samples["before"], samples["after"], strict=True)]
    return {
        "medians": medians,
        "paired_saved_median": round(statistics.median(paired), 2),
        "samples": {k: [round(x, 2) for x in v] for k, v in samples.items()},
    }


@dataclass
class _FakeStack:
    """What `bench.paths.Telegram` reads of a BenchStack."""

    telegram: FakeTelegram
    telegram_loop: BackgroundLoop | None


def markdown(report: dict[str, Any]) -> str:
    """The A/B table."""
    args = report["args"]
    medians = report["results"]["medians"]
    before, after = medians["before"], medians["after"]
    saved = round(before - after, 2)
    return "\n".join(
        [
            f"# {args['door']} door: CPU ms per plain turn, two trees side by side",
            "",
            *environment.header_lines(report["environment"]),
            "",
            f"before = `{args['before']}`, after = `{args['after']}`; {args['rounds']} rounds of "
            f"{args['turns']} turns, {args['users']} users at once, alternating.",
            "",
            "| door | before | after | saved (medians) | saved (median of the rounds' paired differences) |",
            "| --- | --- | --- | --- | --- |",
            f"| {args['door']} | {before} | {after} | {saved} ({round(100 * saved / before)} %) "
            f"| {report['results']['paired_saved_median']} |",
            "",
            f"Per round (before): {report['results']['samples']['before']}",
            f"Per round (after): {report['results']['samples']['after']}",
            "",
        ]
    )


def main() -> None:
    """Command line."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--door", choices=["bot", "console"], required=True)
    parser.add_argument("--before", required=True, help="source tree of the old code")
    parser.add_argument("--after", default=".", help="source tree of the new code (default: this one)")
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--turns", type=int, default=40)
    parser.add_argument("--users", type=int, default=4)
    parser.add_argument("--settle", type=float, default=0.5)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    args.before, args.after = Path(args.before).resolve(), Path(args.after).resolve()
    env = environment.describe(sys.argv)
    results = asyncio.run(run(args))
    report = {
        "environment": environment.finish(env),
        "args": {k: str(v) for k, v in vars(args).items()},
        "results": results,
    }
    text = markdown(report)
    if args.out is not None:
        args.out.write_text(text)
        args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    print(text)


if __name__ == "__main__":
    main()
