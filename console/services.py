"""What the console needs at run time (database sessions, the Rasa client), built once per app.

`create_app(settings)` builds these in its lifespan; tests pass their own `ConsoleServices`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from db.engine import make_engine, make_session_factory
from rasa_client import AssistantTurn, RasaClient
from settings import Settings


class AssistantClient(Protocol):
    """The part of `rasa_client.RasaClient` the console uses."""

    async def send(self, sender_id: str, text: str, metadata: dict[str, Any] | None = None) -> AssistantTurn:
        """Deliver one user message and return the assistant's turn."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


@dataclass
class ConsoleServices:
    """Database sessions and the assistant client the console's views use."""

    session_factory: sessionmaker[Session]
    assistant: AssistantClient
    engine: Engine | None = None

    async def aclose(self) -> None:
        """Close the assistant client and, when this object owns it, the engine."""
        await self.assistant.aclose()
        if self.engine is not None:
            self.engine.dispose()


def build_services(settings: Settings) -> ConsoleServices:
    """Services on the configured database and Rasa server."""
    engine = make_engine(settings.effective_database_url)
    return ConsoleServices(
        session_factory=make_session_factory(engine),
        assistant=RasaClient(settings.rasa_url, settings.rasa_shared_secret, settings.rasa_timeout_seconds),
        engine=engine,
    )
