"""`python -m console`: serve the staff console on settings.console_host:console_port."""

from __future__ import annotations

import uvicorn

from console.app import create_app
from settings import get_settings


def main() -> None:
    """Build the app from the environment's settings and serve it with uvicorn."""
    settings = get_settings()
    app = create_app(settings)
    uvicorn.run(app, host=settings.console_host, port=settings.console_port, proxy_headers=False)


if __name__ == "__main__":
    main()
