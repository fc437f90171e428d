"""A proxy in front of the action server that dies (stops listening, drops its connections) right
after it has forwarded the answer of one chosen action: the action server crashing, or being
restarted by a deploy, between two action calls of one Rasa turn. The next call's connection is
refused (aiohttp's ClientConnectorError, which the paychat channel counts as "did not run").
`revive()` listens again on the same port.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web

from scripts.train import current_model_path
from testing.faultproxy import HOP_BY_HOP
from testing.loop import BackgroundLoop
from tests.helpers.stack import AssistantStack, start_assistant_stack


class DyingProxy:
    """Forwards HTTP to `upstream`; after answering the call of `die_after` (an action name), gone."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.port = 0
        self.die_after: str | None = None
        self.dead = False
        self.forwarded: list[str] = []  # the actions (next_action) forwarded, in order
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
        await self.revive()

    async def revive(self) -> None:
        assert self._runner is not None
        self._site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await self._site.start()
        self.port = self._site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.dead = False

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def _die(self, current: Any) -> None:
        """Stop listening (new connections are refused) and close every other kept-alive connection."""
        assert self._site is not None and self._runner is not None
        server = self._site._server
        if server is not None:
            server.close()  # the listening socket goes; connections already made stay
        for handler in list(self._runner.server.connections if self._runner.server else []):
            if handler is not current:
                handler.close()
        self.die_after = None
        self.dead = True

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        action = None
        if request.method == "POST" and body:
            try:
                action = json.loads(body).get("next_action")
            except ValueError:
                action = None
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        async with self._session.request(
            request.method, self.upstream + request.rel_url.raw_path_qs, headers=headers, data=body
        ) as answer:
            payload = await answer.read()
            status, answer_headers = answer.status, answer.headers
        if action:
            self.forwarded.append(action)
        out = {k: v for k, v in answer_headers.items() if k.lower() not in HOP_BY_HOP}
        response = web.Response(body=payload, status=status, headers=out)
        if action is not None and action == self.die_after:
            response.force_close()  # this connection closes once the answer is out
            self._die(request.protocol)
        return response


@contextmanager
def dying_action_server_stack(
    workdir: Path, label: str
) -> Iterator[tuple[AssistantStack, DyingProxy, BackgroundLoop]]:
    """A real assistant stack (tests/helpers/stack.py, the trained model) whose action server is
    reached through one `DyingProxy`; yields (stack, proxy, the loop the proxy runs on)."""
    model = current_model_path()
    if not model.exists():
        pytest.fail(f"no trained model for this checkout ({model}); run `make train`")
    loop = BackgroundLoop(label)
    proxies: list[DyingProxy] = []

    def via(name: str, url: str) -> str:
        if name != "action-server":
            return url
        parts = urlsplit(url)
        proxy = DyingProxy(f"{parts.scheme}://{parts.netloc}")
        loop.run(proxy.start())
        proxies.append(proxy)
        return proxy.url + parts.path

    try:
        with start_assistant_stack(workdir, model, via=via) as stack:
            yield stack, proxies[0], loop
    finally:
        for proxy in proxies:
            loop.run(proxy.stop())
        loop.close()
