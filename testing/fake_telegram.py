"""A fake Telegram Bot API HTTP server for offline tests and benchmarks, and helpers to run the real
bot against it (in-process here, or `python -m bot` with TELEGRAM_API_BASE pointed at `base_url`).

Real python-telegram-bot talks HTTP/1.1 to this aiohttp server on 127.0.0.1 (a free port): it answers
the methods the bot uses, records every call, serves queued updates to long polling and keeps the
messages it "sent" so edits behave like Telegram's (editing a keyboard away twice is an error).
The fake ignores getUpdates' offset on purpose: a test can queue the same update twice to replay it,
the way Telegram redelivers after a crash or a webhook timeout.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_USER = {"id": 7000001, "is_bot": True, "first_name": "PayChat", "username": "paychat_test_bot"}
JSON_FIELDS = {
    "reply_markup", "entities", "allowed_updates", "link_preview_options", "reply_parameters",
    "commands", "scope", "message_ids",
}
INT_FIELDS = {"chat_id", "message_id", "offset", "limit", "timeout"}


@dataclass
class ApiCall:
    """One request the bot made: the method name and its decoded parameters."""

    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


class FakeTelegram:
    """The fake Bot API: start() it, point the bot's base_url at `base_url`, queue updates."""

    def __init__(self, token: str = "123456:TEST-token") -> None:
        self.token = token
        self.calls: list[ApiCall] = []
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.deleted: set[tuple[int, int]] = set()
        # The bytes of every file sent with sendDocument, by (chat id, message id).
        self.documents: dict[tuple[int, int], bytes] = {}
        self.refuse_deletes = False  # True: deleteMessage(s) fails like for a message older than 48 h
        # (chat id, message id) that cannot be deleted: deleteMessage fails, and so does a
        # deleteMessages call that names one.
        self.undeletable: set[tuple[int, int]] = set()
        # Seconds each call of a method takes before it is answered, and the most calls of each
        # method seen in flight at once (`most_in_flight`; under "" those of every delayed method).
        self.delays: dict[str, float] = {}
        self.most_in_flight: dict[str, int] = {}
        self._in_flight: dict[str, int] = {}
        # Called with every answered call but getUpdates (the benchmark times replies with these).
        self.listeners: list[Callable[[ApiCall, Any], None]] = []
        self._updates: list[dict[str, Any]] = []
        self._changed = asyncio.Condition()
        # Long polling as the bot sees it: getUpdates requests so far (counted when one arrives), and
        # the request that handed each update id to the bot (`wait_polled` waits on these).
        self.polls = 0
        self.served_by: dict[int, int] = {}
        self._polled = asyncio.Condition()
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        """The value for the bot's `base_url` (PTB appends the token and the method)."""
        return f"http://127.0.0.1:{self.port}/bot"

    async def start(self) -> None:
        """Listen on 127.0.0.1 and a free port."""
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()

    # --- feeding updates -------------------------------------------------------------------------

    async def push_update(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue a raw update for the next getUpdates (same update_id twice = a replay)."""
        async with self._changed:
            self._updates.append(update)
            self._changed.notify_all()
        return update

    def queued(self) -> list[dict[str, Any]]:
        """The updates pushed and not yet served by a getUpdates."""
        return list(self._updates)

    def next_update_id(self) -> int:
        """A fresh update id."""
        return next(self._update_ids)

    async def send_text(
        self, user_id: int, text: str, *, first_name: str = "Test", language_code: str = "en"
    ) -> dict[str, Any]:
        """Queue a private text message from `user_id` (a bot_command entity when it starts with /)."""
        extra: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            command = text.split()[0]
            extra["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        return await self.send_message(user_id, first_name=first_name, language_code=language_code, **extra)

    async def send_message(
        self, user_id: int, *, first_name: str = "Test", language_code: str = "en", **fields: Any
    ) -> dict[str, Any]:
        """Queue a private message from `user_id` with the given fields (text, sticker, caption...)."""
        sender = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": language_code}
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": user_id, "type": "private", "first_name": first_name},
            "from": sender,
            **fields,
        }
        return await self.push_update({"update_id": self.next_update_id(), "message": message})

    async def send_chat_text(
        self, user_id: int, chat: dict[str, Any], text: str, *, edited: bool = False, **fields: Any
    ) -> dict[str, Any]:
        """Queue a text message from `user_id` in another kind of chat (a group, a supergroup...)."""
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat,
            "from": {"id": user_id, "is_bot": False, "first_name": "Test", "language_code": "en"},
            "text": text,
            **fields,
        }
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        kind = "edited_message" if edited else "message"
        if edited:
            message["edit_date"] = int(time.time())
        if chat.get("type") == "channel":
            kind = "edited_channel_post" if edited else "channel_post"
            message.pop("from")
        return await self.push_update({"update_id": self.next_update_id(), kind: message})

    async def edit_text(self, user_id: int, original: dict[str, Any], text: str) -> dict[str, Any]:
        """Queue an edited_message: `user_id` changes the text of their earlier message `original`."""
        message = {**original["message"], "text": text, "edit_date": int(time.time())}
        message.pop("entities", None)
        return await self.push_update({"update_id": self.next_update_id(), "edited_message": message})

    async def member_status(self, user_id: int, old: str, new: str) -> dict[str, Any]:
        """Queue a my_chat_member update: the bot's status in the user's private chat went old → new
        ("member" → "kicked" when the user blocks the bot, back to "member" when they unblock it)."""
        user = {"id": user_id, "is_bot": False, "first_name": "Test", "language_code": "en"}
        change = {
            "chat": {"id": user_id, "type": "private", "first_name": "Test"},
            "from": user,
            "date": int(time.time()),
            "old_chat_member": {"user": BOT_USER, "status": old, **_member_extras(old)},
            "new_chat_member": {"user": BOT_USER, "status": new, **_member_extras(new)},
        }
        return await self.push_update({"update_id": self.next_update_id(), "my_chat_member": change})

    async def tap(self, user_id: int, message: dict[str, Any], data: str) -> dict[str, Any]:
        """Queue a callback query: `user_id` taps the button with `data` under the bot's `message`."""
        query = {
            "id": f"cq{self.next_update_id()}",
            "from": {"id": user_id, "is_bot": False, "first_name": "Test", "language_code": "en"},
            "chat_instance": f"ci{user_id}",
            "message": message,
            "data": data,
        }
        return await self.push_update({"update_id": self.next_update_id(), "callback_query": query})

    # --- looking at what the bot did ---------------------------------------------------------------

    def calls_to(self, method: str, chat_id: int | None = None) -> list[ApiCall]:
        """The recorded calls of one method (optionally to one chat)."""
        return [
            c for c in self.calls
            if c.method == method and (chat_id is None or c.params.get("chat_id") == chat_id)
        ]

    def deleted_ids(self, chat_id: int) -> set[int]:
        """The ids of the chat's messages deleted so far (by deleteMessage or deleteMessages)."""
        return {message_id for chat, message_id in self.deleted if chat == chat_id}

    def delete_calls(self, chat_id: int | None = None) -> list[ApiCall]:
        """The deleteMessage and deleteMessages calls (optionally to one chat), in order."""
        return [
            c for c in self.calls
            if c.method in {"deleteMessage", "deleteMessages"}
            and (chat_id is None or c.params.get("chat_id") == chat_id)
        ]

    def sent_messages(self, chat_id: int) -> list[dict[str, Any]]:
        """Messages the bot sent to a chat, oldest first, as currently stored (after edits)."""
        return [m for (chat, _), m in sorted(self.messages.items()) if chat == chat_id]

    async def wait_for(self, predicate: Callable[[], Any], within: float = 20.0) -> Any:
        """Wait until predicate() is truthy (checked on every API call and every 0.2 s); return it."""
        deadline = time.monotonic() + within
        async with self._changed:
            while True:
                result = predicate()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    methods = [c.method for c in self.calls[-15:]]
                    raise AssertionError(f"condition not met within {within}s; last calls: {methods}")
                # Re-check at least every 0.2 s too: predicates may also look at a database.
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), min(remaining, 0.2))

    async def wait_polled(self, predicate: Callable[[], Any], within: float) -> bool:
        """Wait until predicate() is truthy, checked whenever a getUpdates arrives or hands out
        updates (see `polls`, `served_by`); False after `within` seconds."""
        async with self._polled:
            try:
                await asyncio.wait_for(self._polled.wait_for(predicate), within)
            except TimeoutError:
                return bool(predicate())
        return True

    async def wait_for_messages(self, chat_id: int, count: int, within: float = 30.0) -> list[dict[str, Any]]:
        """Wait until the bot has sent at least `count` messages to the chat; return them all."""
        return await self.wait_for(  # type: ignore[no-any-return]
            lambda: (msgs := self.sent_messages(chat_id)) and len(msgs) >= count and msgs, within
        )

    # --- the API itself ----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params = _decode(dict(await request.post()))
        if method == "getUpdates":
            async with self._polled:
                self.polls += 1
                poll = self.polls
                self._polled.notify_all()
            result: Any = await self._get_updates(params)
            # Polls are recorded but do not wake `wait_for`: it would spin on every empty poll.
            self.calls.append(ApiCall(method, params))
            if result:
                async with self._polled:
                    for update in result:
                        if isinstance(update.get("update_id"), int):
                            self.served_by[update["update_id"]] = poll
                    self._polled.notify_all()
            return web.json_response({"ok": True, "result": result})
        if method in self.delays:
            for kind in (method, ""):
                self._in_flight[kind] = self._in_flight.get(kind, 0) + 1
                self.most_in_flight[kind] = max(self.most_in_flight.get(kind, 0), self._in_flight[kind])
            try:
                await asyncio.sleep(self.delays[method])
            finally:
                for kind in (method, ""):
                    self._in_flight[kind] -= 1
        async with self._changed:
            call = ApiCall(method, params)
            self.calls.append(call)
            try:
                result = self._answer(method, params)
            except _ApiError as err:
                self._changed.notify_all()
                return _error(err.code, err.description)
            self._changed.notify_all()
        for listener in self.listeners:
            listener(call, result)
        return web.json_response({"ok": True, "result": result})

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        timeout = min(float(params.get("timeout", 0) or 0), 1.0)
        async with self._changed:
            if not self._updates and timeout > 0:
                try:
                    await asyncio.wait_for(self._changed.wait_for(lambda: bool(self._updates)), timeout)
                except TimeoutError:
                    return []
            served, self._updates = self._updates, []
            return served

    def _answer(self, method: str, p: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT_USER
        if method in {"deleteWebhook", "setWebhook", "sendChatAction", "answerCallbackQuery", "close",
                      "setMyCommands", "logOut"}:
            return True
        if method == "sendMessage":
            return self._store_new(p)
        if method == "sendDocument":
            return self._store_document(p)
        if method == "deleteMessage":
            key = (p["chat_id"], p["message_id"])
            if self.refuse_deletes or key in self.undeletable:
                raise _ApiError(400, "Bad Request: message can't be deleted")
            if key in self.deleted:
                raise _ApiError(400, "Bad Request: message to delete not found")
            self.deleted.add(key)
            return True
        if method == "deleteMessages":  # as Telegram: ids not found are skipped; 1 to 100 ids
            ids = p.get("message_ids")
            if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
                raise _ApiError(400, "Bad Request: message_ids must be 1-100 message identifiers")
            keys = {(p["chat_id"], int(message_id)) for message_id in ids}
            if self.refuse_deletes or keys & self.undeletable:
                raise _ApiError(400, "Bad Request: message can't be deleted")
            self.deleted.update((p["chat_id"], int(message_id)) for message_id in ids)
            return True
        if method in {"editMessageReplyMarkup", "editMessageText"}:
            return self._edit(method, p)
        raise _ApiError(404, f"Not Found: method {method} is not faked")

    def _store_new(self, p: dict[str, Any]) -> dict[str, Any]:
        chat_id = p["chat_id"]
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Test"},
            "from": BOT_USER,
            "text": p.get("text", ""),
        }
        if p.get("reply_markup"):
            message["reply_markup"] = p["reply_markup"]
        self.messages[(chat_id, message["message_id"])] = message
        return message

    def _store_document(self, p: dict[str, Any]) -> dict[str, Any]:
        upload = p.get("document")  # a multipart file part (aiohttp FileField), or a file_id string
        data = upload.file.read() if hasattr(upload, "file") else b""
        message = self._store_new({**p, "text": ""})
        message_id = message["message_id"]
        message["document"] = {
            "file_id": f"doc{message_id}",
            "file_unique_id": f"udoc{message_id}",
            "file_name": getattr(upload, "filename", None) or "document",
            "file_size": len(data),
        }
        if p.get("caption"):
            message["caption"] = p["caption"]
        self.documents[(p["chat_id"], message_id)] = data
        return message

    def _edit(self, method: str, p: dict[str, Any]) -> dict[str, Any]:
        key = (p.get("chat_id"), p.get("message_id"))
        message = self.messages.get(key)  # type: ignore[arg-type]
        if message is None:
            raise _ApiError(400, "Bad Request: message to edit not found")
        new_markup = p.get("reply_markup") or None
        new_text = p.get("text", message["text"]) if method == "editMessageText" else message["text"]
        if new_markup == message.get("reply_markup") and new_text == message["text"]:
            raise _ApiError(400, "Bad Request: message is not modified")
        message["text"] = new_text
        if new_markup:
            message["reply_markup"] = new_markup
        else:
            message.pop("reply_markup", None)
        return message


def _member_extras(status: str) -> dict[str, Any]:
    """The fields Telegram adds to a ChatMember of this status (PTB needs them to decode it)."""
    return {"until_date": 0} if status == "kicked" else {}


class _ApiError(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def _error(code: int, description: str) -> web.Response:
    return web.json_response({"ok": False, "error_code": code, "description": description}, status=code)


def _decode(form: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for key, value in form.items():
        if key in JSON_FIELDS:
            params[key] = json.loads(value)
        elif key in INT_FIELDS:
            params[key] = int(value)
        else:
            params[key] = value
    return params


@asynccontextmanager
async def fake_telegram_server() -> AsyncIterator[FakeTelegram]:
    """A started FakeTelegram, stopped afterwards."""
    fake = FakeTelegram()
    await fake.start()
    try:
        yield fake
    finally:
        await fake.stop()


@asynccontextmanager
async def polling(application: Any) -> AsyncIterator[Any]:
    """Run a built PTB Application with real long polling, as `run_polling` would, minus signals."""
    await application.initialize()
    if application.post_init:
        await application.post_init(application)
    await application.updater.start_polling(poll_interval=0.0, timeout=1)
    await application.start()
    try:
        yield application
    finally:
        await application.updater.stop()
        await application.stop()
        if application.post_shutdown:
            await application.post_shutdown(application)
        await application.shutdown()
