"""A small fault-injecting HTTP proxy, in the spirit of toxiproxy (whose server is a Go binary that
no package registry we use ships).

A `FaultProxy` listens on 127.0.0.1 and forwards every HTTP/1.1 request to one upstream (keeping
connections to it alive). A `Fault` set on it changes what happens to the next requests:

- `HTTP_500`: answer 500 without asking the upstream;
- `BLACKHOLE`: accept the request and never answer (the caller's timeout fires);
- `RESET`: reset the caller's connection (TCP RST) before the upstream sees the request;
- `RESET_AFTER`: forward the request, let the upstream act on it, then reset the caller's
  connection instead of answering: the caller cannot know whether it happened (the worst case
  for a charge);
- `LATENCY`: forward after waiting `latency_seconds`;
- `DOWN`: reset every connection as soon as it is made, as a stopped server would refuse it.

A fault applies to requests whose path starts with `path_prefix`, to the next `count` of them
(None: until cleared). `FaultProxies` runs several proxies on an event loop of their own thread,
so blocking work in the caller (starting processes, say) never stalls the traffic they carry.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum

import aiohttp
from aiohttp import web

from testing.loop import BackgroundLoop

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "host",
    "content-length",
}


class Toxic(StrEnum):
    """What a fault does to a request."""

    HTTP_500 = "http_500"
    BLACKHOLE = "blackhole"
    RESET = "reset"
    RESET_AFTER = "reset_after"
    LATENCY = "latency"
    DOWN = "down"


@dataclass
class Fault:
    """A toxic, the requests it applies to (path prefix, how many) and its latency."""

    toxic: Toxic
    count: int | None = None
    path_prefix: str = "/"
    latency_seconds: float = 0.0


class FaultProxy:
    """An HTTP proxy to `upstream` whose requests a `Fault` can break; counts what it did."""

    def __init__(self, name: str, upstream: str) -> None:
        self.name = name
        self.upstream = upstream.rstrip("/")
        self.port = 0
        self.stats: Counter[str] = Counter()
        self._fault: Fault | None = None
        self._lock = threading.Lock()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._stopping: asyncio.Event | None = None

    @property
    def url(self) -> str:
        """The proxy's base address (callers use it instead of the upstream's)."""
        return f"http://127.0.0.1:{self.port}"

    def set(self, fault: Fault | None) -> None:
        """Apply `fault` to the next matching requests (None: forward everything)."""
        with self._lock:
            self._fault = fault

    def clear(self) -> None:
        """Forward everything again."""
        self.set(None)

    def _take(self, path: str) -> Fault | None:
        with self._lock:
            fault = self._fault
            if fault is None or not path.startswith(fault.path_prefix):
                return None
            if fault.count is not None:
                fault.count -= 1
                if fault.count <= 0:
                    self._fault = None
            self.stats[fault.toxic.value] += 1
            return fault

    async def start(self, port: int = 0) -> None:
        """Listen on 127.0.0.1 (a free port unless one is given)."""
        app = web.Application(client_max_size=16 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self._stopping = asyncio.Event()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None), auto_decompress=False
        )

    async def stop(self) -> None:
        """Stop listening (held requests are reset) and close the upstream connections."""
        if self._stopping is not None:
            self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        fault = self._take(request.path)
        body = await request.read()
        toxic = fault.toxic if fault else None
        if toxic in (Toxic.RESET, Toxic.DOWN):
            return _reset(request)
        if toxic is Toxic.HTTP_500:
            return web.json_response({"error": f"injected by {self.name}"}, status=500)
        if toxic is Toxic.BLACKHOLE:
            assert self._stopping is not None
            await self._stopping.wait()  # held until the proxy stops, then dropped
            return _reset(request)
        if toxic is Toxic.LATENCY and fault is not None:
            await asyncio.sleep(fault.latency_seconds)
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        try:
            async with self._session.request(
                request.method, self.upstream + request.rel_url.raw_path_qs, headers=headers, data=body
            ) as answer:
                payload = await answer.read()
                status, answer_headers = answer.status, answer.headers
        except aiohttp.ClientError:
            self.stats["upstream_unreachable"] += 1
            return _reset(request)
        self.stats["forwarded"] += 1
        if toxic is Toxic.RESET_AFTER:
            return _reset(request)
        out = {k: v for k, v in answer_headers.items() if k.lower() not in HOP_BY_HOP}
        return web.Response(body=payload, status=status, headers=out)


def _reset(request: web.Request) -> web.StreamResponse:
    """Abort the caller's connection with a TCP RST (SO_LINGER 0), as a crashed peer would."""
    transport = request.transport
    if transport is not None:
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
    return web.Response(status=502)  # never delivered: the connection is gone


class FaultProxies:
    """Fault proxies running on an event loop in a background thread."""

    def __init__(self) -> None:
        self.proxies: dict[str, FaultProxy] = {}
        self._loop = BackgroundLoop("fault-proxies")

    def add(self, name: str, upstream: str) -> FaultProxy:
        """Start a proxy called `name` in front of `upstream`; returns it (its `url` is the new address)."""
        proxy = FaultProxy(name, upstream)
        self._loop.run(proxy.start())
        self.proxies[name] = proxy
        return proxy

    def __getitem__(self, name: str) -> FaultProxy:
        return self.proxies[name]

    def clear_all(self) -> None:
        """Remove every fault."""
        for proxy in self.proxies.values():
            proxy.clear()

    def close(self) -> None:
        """Stop every proxy and the loop."""
        for proxy in self.proxies.values():
            self._loop.run(proxy.stop())
        self._loop.close()


@contextmanager
def fault_proxies() -> Iterator[FaultProxies]:
    """A FaultProxies, closed at the end of the block."""
    proxies = FaultProxies()
    try:
        yield proxies
    finally:
        proxies.close()


def rewrite_base(url: str, proxy: FaultProxy) -> str:
    """`url` with its scheme, host and port replaced by the proxy's (the path is kept)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    return urlunsplit(("http", f"127.0.0.1:{proxy.port}", parts.path, parts.query, parts.fragment))
