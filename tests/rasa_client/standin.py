"""A stand-in Rasa channel over real HTTP on loopback (aiohttp), for the Rasa client's admission
control: it counts the calls it is answering at once, can answer one call at a time (a saturated
Rasa: a call queued inside it waits for those before it) and can hold every answer until released
(or only some: `held`), and can answer a message with scripted replies (`scripted`) instead of its
echo."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

from rasa_client import CHANNEL_PATH


@dataclass
class StandInRasa:
    """Answers "echo: <message>" (or `scripted[message]`); `seconds` per call; `serial`: one call at a
    time; `hold`: wait for it (only the calls `held(sender, message)` is True for, when given)."""

    seconds: float = 0.0
    serial: bool = False
    hold: asyncio.Event | None = None
    held: Callable[[str, str], bool] | None = None
    scripted: dict[str, list[dict[str, object]]] = field(default_factory=dict)
    received: list[str] = field(default_factory=list)
    now: int = 0
    peak: int = 0
    port: int = 0
    _one_at_a_time: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def url(self) -> str:
        """Base URL for RasaClient."""
        return f"http://127.0.0.1:{self.port}"

    async def _answer(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.received.append(body["message"])
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            if self.serial:
                async with self._one_at_a_time:
                    await asyncio.sleep(self.seconds)
            else:
                await asyncio.sleep(self.seconds)
            if self.hold is not None and (self.held is None or self.held(body["sender"], body["message"])):
                await self.hold.wait()
        finally:
            self.now -= 1
        replies = self.scripted.get(body["message"]) or [{"text": f"echo: {body['message']}"}]
        return web.json_response({"replies": replies})


@asynccontextmanager
async def standin_rasa(**options: object) -> AsyncIterator[StandInRasa]:
    """A started StandInRasa on a free loopback port, stopped afterwards."""
    rasa = StandInRasa(**options)  # type: ignore[arg-type]
    app = web.Application()
    app.router.add_post(CHANNEL_PATH, rasa._answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rasa.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield rasa
    finally:
        await runner.cleanup()
