"""The fault proxy forwards, and each toxic breaks requests the way it says (testing/faultproxy.py)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web

from testing.faultproxy import Fault, FaultProxy, Toxic


@pytest.fixture
async def upstream() -> AsyncIterator[tuple[str, list[str]]]:
    """A tiny upstream that records the paths it served."""
    seen: list[str] = []

    async def handle(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.json_response({"path": request.path, "body": (await request.read()).decode()})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


@pytest.fixture
async def proxy(upstream: tuple[str, list[str]]) -> AsyncIterator[FaultProxy]:
    """A fault proxy in front of the upstream."""
    made = FaultProxy("test", upstream[0])
    await made.start()
    yield made
    await made.stop()


async def test_forwards_method_path_and_body(proxy: FaultProxy, upstream: tuple[str, list[str]]) -> None:
    async with httpx.AsyncClient(base_url=proxy.url) as client:
        answer = await client.post("/v1/things?x=1", content=b"hello")
    assert answer.status_code == 200
    assert answer.json() == {"path": "/v1/things", "body": "hello"}
    assert proxy.stats["forwarded"] == 1


async def test_http_500_answers_without_the_upstream(
    proxy: FaultProxy, upstream: tuple[str, list[str]]
) -> None:
    proxy.set(Fault(Toxic.HTTP_500, count=1))
    async with httpx.AsyncClient(base_url=proxy.url) as client:
        assert (await client.get("/a")).status_code == 500
        assert (await client.get("/b")).status_code == 200  # count=1: the fault is used up
    assert upstream[1] == ["/b"]


async def test_reset_and_reset_after_differ_in_whether_the_upstream_acted(
    proxy: FaultProxy, upstream: tuple[str, list[str]]
) -> None:
    async with httpx.AsyncClient(base_url=proxy.url) as client:
        proxy.set(Fault(Toxic.RESET, path_prefix="/pay"))
        with pytest.raises(httpx.TransportError):
            await client.post("/pay/1")
        assert (await client.get("/other")).status_code == 200  # other paths pass
        proxy.set(Fault(Toxic.RESET_AFTER))
        with pytest.raises(httpx.TransportError):
            await client.post("/pay/2")
    assert upstream[1] == ["/other", "/pay/2"]


async def test_blackhole_times_out_and_latency_delays(proxy: FaultProxy) -> None:
    async with httpx.AsyncClient(base_url=proxy.url, timeout=0.5) as client:
        proxy.set(Fault(Toxic.BLACKHOLE))
        with pytest.raises(httpx.ReadTimeout):
            await client.get("/slow")
        proxy.set(Fault(Toxic.LATENCY, latency_seconds=0.3))
        started = time.monotonic()
        assert (await client.get("/late")).status_code == 200
        assert time.monotonic() - started >= 0.3
