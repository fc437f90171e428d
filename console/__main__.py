"""`python -m console`: serve the staff console on settings.console_host:console_port."""

from __future__ import annotations

import logging

import uvicorn

from console.app import create_app
from observability.logs import configure_logging
from settings import get_settings


def main() -> None:
    """Build the app from the environment's settings and serve it with uvicorn."""
    settings = get_settings()
    configure_logging("console", logging.getLevelName(settings.log_level.upper()))
    app = create_app(settings)
    # log_config=None: uvicorn's own lines (and its access log) go through the JSON handler too.
    uvicorn.run(
        app, host=settings.console_host, port=settings.console_port, proxy_headers=False, log_config=None
    )


if __name__ == "__main__":
    main()
