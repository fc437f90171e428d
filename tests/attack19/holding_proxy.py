"""A proxy in front of the action server that holds the call of one chosen action until released,
then forwards it whatever became of the caller: a request that reached a busy action server (its
workers taken, a slow database) and runs there after Rasa stopped waiting for it.
"""

from __future__ import annotations

import asyncio
import json
import threading

import aiohttp
from aiohttp import web

from testing.faultproxy import HOP_BY_HOP


class HoldingProxy:
    """Forwards HTTP to `upstream`; a call of `hold` (an action name) waits for `release`."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.port = 0
        self.hold: str | None = None
        # False: the call of `hold` waits before it is forwarded (it runs late); True: it runs at
        # once and its answer waits (it ran, and Rasa is not told in time).
        self.hold_answer = False
        self.release = threading.Event()
        self.held = threading.Event()  # a call of `hold` arrived
        self.answered: list[tuple[str, int]] = []  # (action, status) forwarded and answered
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[web.Response]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        self.release.set()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=30)
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        action = None
        if request.method == "POST" and body:
            try:
                action = json.loads(body).get("next_action")
            except ValueError:
                action = None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        task = asyncio.create_task(self._forward(request, action, headers, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return await asyncio.shield(task)  # Rasa giving up does not stop what reached the server

    async def _forward(
        self, request: web.Request, action: str | None, headers: dict[str, str], body: bytes
    ) -> web.Response:
        holding = action is not None and action == self.hold
        if holding:
            self.held.set()
        if holding and not self.hold_answer:
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 120)
        assert self._session is not None
        async with self._session.request(
            request.method, self.upstream + request.rel_url.raw_path_qs, headers=headers, data=body
        ) as answer:
            payload = await answer.read()
            status, answer_headers = answer.status, answer.headers
        if holding and self.hold_answer:
            await asyncio.get_running_loop().run_in_executor(None, self.release.wait, 120)
        if action:
            self.answered.append((action, status))
        out = {k: v for k, v in answer_headers.items() if k.lower() not in HOP_BY_HOP}
        return web.Response(body=payload, status=status, headers=out)
