"""The action server's one handle on the payments core, built lazily and replaceable in tests.

Nothing is built at import time: the first action that needs the service calls `get_services()`,
which builds a `PaymentsService` from `settings.get_settings()` once per process. Tests install
their own service with `set_services()` and drop it with `reset_services()`.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from payments.service import PaymentsService

_lock = threading.Lock()
_service: PaymentsService | None = None


def get_services() -> PaymentsService:
    """The process's PaymentsService, built on first use from the environment's settings."""
    global _service
    with _lock:
        if _service is None:
            from payments.service import build_service
            from settings import get_settings

            _service = build_service(get_settings())
        return _service


def set_services(service: PaymentsService) -> None:
    """Use `service` for every following action (tests, or a custom `main()`)."""
    global _service
    with _lock:
        _service = service


def reset_services() -> None:
    """Forget the current service; the next `get_services()` builds a fresh one."""
    global _service
    with _lock:
        _service = None
