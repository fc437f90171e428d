"""The doors a message can take into the assistant, each driven as its clients drive it.

- `telegram`: an update fed to the real bot process through the fake Bot API's long polling; the
  turn ends when the bot's reply arrives as a sendMessage (a button payload is a tap on the last
  keyboard, which the bot answers by removing the keyboard and relaying the payload);
- `console_cookie` / `console_basic`: `POST /api/chat` on the console, with a cookie session (one
  login per simulated user, CSRF header) or HTTP Basic on every request;
- `channel`: paychat's secret-checked Rasa channel through `rasa_client.RasaClient`, no front end;
- `bare_rest` / `bare_parse`: bare Rasa on the same model (REST channel; /model/parse).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from bench.stack import BenchStack
from bench.users import BenchUser
from bot import texts
from rasa_client import Button, RasaClient, Reply

FAILURE_TEXTS = {
    texts.BRAIN_DOWN,
    texts.SOMETHING_WENT_WRONG,
    texts.BUSY,
    texts.NO_ANSWER,
    texts.NO_ANSWER_PAYMENT,
    texts.NO_ANSWER_TAP_NOT_CARRIED_OUT,
    texts.CONVERSATION_UNREADABLE,
    texts.SLOW_DOWN,
}
TURN_TIMEOUT_SECONDS = 120.0
LOGIN_ATTEMPTS = 4
LOGINS_AT_ONCE = 8
HTTP_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=200)
# The console (uvicorn) closes a connection idle for 5 s: a client reusing one just then gets a
# ReadError (1 of 400 turns at 100 users). A client that drops idle connections first does not.
CONSOLE_LIMITS = httpx.Limits(max_connections=200, max_keepalive_connections=200, keepalive_expiry=4.0)


class TurnError(Exception):
    """A turn that failed: `kind` says how (http_503, timeout, failure_reply, unexpected...)."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


class Path(Protocol):
    """One way into the assistant."""

    name: str

    async def send(self, user: BenchUser, session: str, text: str, want_buttons: bool) -> list[Reply]:
        """Deliver `text` as `user` in conversation `session`; the assistant's replies."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def _replies(items: list[dict[str, Any]]) -> list[Reply]:
    return [
        Reply(
            text=item.get("text"),
            buttons=[Button(b.get("title", ""), b.get("payload", "")) for b in item.get("buttons") or []],
        )
        for item in items
    ]


def _check_status(response: httpx.Response) -> None:
    if response.status_code != 200:
        raise TurnError(f"http_{response.status_code}", response.text[:200])


@dataclass
class BareParse:
    """Bare Rasa's /model/parse: NLU only."""

    base_url: str
    name: str = "bare_parse"
    http: httpx.AsyncClient = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.AsyncClient(
            base_url=self.base_url, timeout=TURN_TIMEOUT_SECONDS, limits=HTTP_LIMITS
        )

    async def send(self, user: BenchUser, session: str, text: str, want_buttons: bool) -> list[Reply]:
        """Parse `text`; the intent's name stands in for a reply."""
        response = await self.http.post("/model/parse", json={"text": text})
        _check_status(response)
        return [Reply(text=str(response.json()["intent"]["name"]))]

    async def aclose(self) -> None:
        """Close the pool."""
        await self.http.aclose()


@dataclass
class BareRest:
    """Bare Rasa's REST channel (in-memory tracker, the same action server)."""

    base_url: str
    name: str = "bare_rest"
    http: httpx.AsyncClient = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.AsyncClient(
            base_url=self.base_url, timeout=TURN_TIMEOUT_SECONDS, limits=HTTP_LIMITS
        )

    async def send(self, user: BenchUser, session: str, text: str, want_buttons: bool) -> list[Reply]:
        """One REST-channel turn."""
        body = {"sender": user.sender(session), "message": text}
        response = await self.http.post("/webhooks/rest/webhook", json=body)
        _check_status(response)
        return _replies(response.json())

    async def aclose(self) -> None:
        """Close the pool."""
        await self.http.aclose()


@dataclass
class Channel:
    """paychat's channel through the one Rasa client bot/ and console/ use."""

    base_url: str
    secret: str
    name: str = "channel"
    client: RasaClient = field(init=False)

    def __post_init__(self) -> None:
        self.client = RasaClient(self.base_url, self.secret, TURN_TIMEOUT_SECONDS)

    async def send(self, user: BenchUser, session: str, text: str, want_buttons: bool) -> list[Reply]:
        """One channel turn."""
        from rasa_client import AssistantUnavailableError

        try:
            return (await self.client.send(user.sender(session), text)).replies
        except AssistantUnavailableError as exc:
            raise TurnError("unavailable", str(exc)) from exc

    async def aclose(self) -> None:
        """Close the client."""
        await self.client.aclose()


@dataclass
class Console:
    """The console's POST /api/chat, as an API client with a cookie session or HTTP Basic."""

    base_url: str
    cookie: bool
    login: tuple[str, str]  # the stack's tester account (BenchStack.console_login)
    name: str = ""
    http: httpx.AsyncClient | None = None
    sessions: dict[int, tuple[httpx.AsyncClient, str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.name = "console_cookie" if self.cookie else "console_basic"
        if not self.cookie:
            self.http = httpx.AsyncClient(
                base_url=self.base_url,
                timeout=TURN_TIMEOUT_SECONDS,
                auth=self.login,
                limits=CONSOLE_LIMITS,
            )

    async def _logged_in(self, user: BenchUser) -> tuple[httpx.AsyncClient, str]:
        if user.user_id not in self.sessions:
            client = httpx.AsyncClient(
                base_url=self.base_url, timeout=TURN_TIMEOUT_SECONDS, limits=CONSOLE_LIMITS
            )
            username, password = self.login
            for attempt in range(LOGIN_ATTEMPTS):  # set-up, not a measured turn: a 5xx is retried
                response = await client.post("/api/login", json={"username": username, "password": password})
                if response.status_code < 500 or attempt == LOGIN_ATTEMPTS - 1:
                    break
                await asyncio.sleep(1.0 + attempt)
            _check_status(response)
            self.sessions[user.user_id] = (client, response.json()["csrf_token"])
        return self.sessions[user.user_id]

    async def log_in(self, users: list[BenchUser]) -> None:
        """Log every user in up front (not part of a turn), a few at a time (argon2 per login)."""
        if self.cookie:
            gate = asyncio.Semaphore(LOGINS_AT_ONCE)

            async def one(user: BenchUser) -> None:
                async with gate:
                    await self._logged_in(user)

            await asyncio.gather(*(one(u) for u in users))

    async def send(self, user: BenchUser, session: str, text: str, want_buttons: bool) -> list[Reply]:
        """One console API turn."""
        body = {"session": session, "text": text, "user_id": user.user_id}
        if self.cookie:
            client, csrf = await self._logged_in(user)
            response = await client.post("/api/chat", json=body, headers={"X-CSRF-Token": csrf})
        else:
            assert self.http is not None
            response = await self.http.post("/api/chat", json=body)
        _check_status(response)
        return _replies(response.json()["replies"])

    async def aclose(self) -> None:
        """Close every client."""
        if self.http is not None:
            await self.http.aclose()
        for client, _ in self.sessions.values():
            await client.aclose()


class Telegram:
    """The real bot process behind the fake Bot API; replies are the bot's sendMessage calls."""

    name = "telegram"

    def __init__(self, stack: BenchStack) -> None:
        assert stack.telegram is not None and stack.telegram_loop is not None
        self.fake = stack.telegram
        self.fake_loop = stack.telegram_loop
        self.loop = asyncio.get_running_loop()
        self.inbox: dict[int, asyncio.Queue[dict[str, Any]]] = {}
        self.keyboards: dict[int, dict[str, Any]] = {}
        self.fake.listeners.append(self._on_call)

    def _on_call(self, call: Any, result: Any) -> None:
        # Runs on the fake's own thread: hand the message over to the bench's loop.
        if call.method == "sendMessage":
            inbox = self.inbox.get(call.params.get("chat_id"))
            if inbox is not None:
                self.loop.call_soon_threadsafe(inbox.put_nowait, dict(result))

    async def send(self, user: BenchUser, session: str, text: str, want_buttons: bool) -> list[Reply]:
        """Send a message (or tap the button whose payload is `text`) and collect the bot's replies."""
        chat = user.telegram_user_id
        inbox = self.inbox.setdefault(chat, asyncio.Queue())
        while not inbox.empty():
            inbox.get_nowait()  # a late message of an earlier turn
        keyboard = self.keyboards.pop(chat, None)
        data = _callback_data(keyboard, text) if keyboard else None
        if keyboard is not None and data is not None:
            await self.fake_loop.arun(self.fake.tap(chat, keyboard, data))
        else:
            await self.fake_loop.arun(self.fake.send_text(chat, text))
        return await self._collect(chat, inbox, want_buttons)

    async def _collect(
        self, chat: int, inbox: asyncio.Queue[dict[str, Any]], want_buttons: bool
    ) -> list[Reply]:
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + TURN_TIMEOUT_SECONDS
        while True:
            # A turn that must end with buttons (the payment summary) is over when they come, however
            # far behind the turn's first message (under load the bot's messages of one turn are
            # spaced by Telegram's rate limit: a 3 s grace made 96 of 100 users miss their Confirm).
            # Any other turn is over with its first message.
            try:
                message = await asyncio.wait_for(inbox.get(), max(deadline - time.monotonic(), 0.01))
            except TimeoutError:
                detail = f"{len(messages)} messages, no buttons" if messages else "no reply"
                raise TurnError("timeout", f"{detail} within {TURN_TIMEOUT_SECONDS:.0f}s") from None
            messages.append(message)
            if message.get("text") in FAILURE_TEXTS:
                raise TurnError("failure_reply", str(message.get("text"))[:80])
            if message.get("reply_markup"):
                self.keyboards[chat] = message
                break
            if not want_buttons:
                break
        return [
            Reply(
                text=m.get("text"),
                buttons=[
                    Button(b["text"], b.get("callback_data", ""))
                    for row in (m.get("reply_markup") or {}).get("inline_keyboard", [])
                    for b in row
                ],
            )
            for m in messages
        ]

    async def aclose(self) -> None:
        """Stop listening."""
        self.fake.listeners.remove(self._on_call)


def _callback_data(message: dict[str, Any], payload: str) -> str | None:
    rows = (message.get("reply_markup") or {}).get("inline_keyboard", [])
    return next((b["callback_data"] for row in rows for b in row if b.get("callback_data") == payload), None)


def build_paths(stack: BenchStack, names: list[str]) -> list[Path]:
    """The paths called `names`, in that order, for this stack."""
    made: list[Path] = []
    for name in names:
        if name == "bare_parse":
            assert stack.bare_url
            made.append(BareParse(stack.bare_url))
        elif name == "bare_rest":
            assert stack.bare_url
            made.append(BareRest(stack.bare_url))
        elif name == "channel":
            made.append(Channel(stack.assistant.rasa_url, stack.assistant.rasa_secret))
        elif name in ("console_cookie", "console_basic"):
            assert stack.console_url
            made.append(
                Console(stack.console_url, cookie=name == "console_cookie", login=stack.console_login)
            )
        elif name == "telegram":
            made.append(Telegram(stack))
        else:
            raise ValueError(f"unknown path {name!r}")
    return made
