"""A Stripe restricted key, played by a proxy: only the declared calls get through.

`PermissionProxy` stands in front of the Stripe sandbox and forwards a request only when
`payments.stripe_permissions.allowed` names it; anything else is refused with 403 and the body
real Stripe sends for a restricted key lacking a permission (the SDK raises `PermissionError`).
Every request is recorded, so a test can say which calls a flow made and that none was refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from payments.stripe_permissions import allowed
from testing.faultproxy import FaultProxies, FaultProxy


@dataclass
class PermissionLog:
    """What went through (method, path pattern) and what was refused (method, path)."""

    used: set[tuple[str, str]] = field(default_factory=set)
    refused: list[tuple[str, str]] = field(default_factory=list)


class PermissionProxy(FaultProxy):
    """A FaultProxy that refuses every request paychat did not declare."""

    def __init__(self, name: str, upstream: str, *, sandbox: bool = True, deny: tuple[str, ...] = ()) -> None:
        super().__init__(name, upstream)
        self.sandbox = sandbox
        self.deny = deny  # resources taken away from the key, to show that refusals are enforced
        self.log = PermissionLog()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        call = allowed(request.method, request.path, sandbox=self.sandbox)
        if call is None or call.resource in self.deny:
            self.log.refused.append((request.method, request.path))
            return web.json_response(
                {
                    "error": {
                        "type": "invalid_request_error",
                        "message": (
                            "The provided key 'rk_test_…' does not have the required permissions for this "
                            f"endpoint ({request.method} {request.path})."
                        ),
                    }
                },
                status=403,
            )
        self.log.used.add((call.method, call.path))
        return await super()._handle(request)


def add_permission_proxy(
    proxies: FaultProxies, upstream: str, *, sandbox: bool = True, deny: tuple[str, ...] = ()
) -> PermissionProxy:
    """Start a PermissionProxy in front of `upstream` on `proxies`' loop."""
    proxy = PermissionProxy("stripe-permissions", upstream, sandbox=sandbox, deny=deny)
    proxies._loop.run(proxy.start())
    proxies.proxies[proxy.name] = proxy
    return proxy
