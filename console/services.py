"""What the console needs at run time, built together once per app: database sessions, the payments
service on the same engine, the Rasa client; and the accessors views use to reach them.

`create_app(settings)` builds these in its lifespan; tests pass their own `ConsoleServices` (a
payments service is then built on their session factory unless they give one).
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from db.engine import make_engine, make_session_factory
from payments.service import PaymentsService, build_service
from rasa_client import AssistantClient, RasaClient
from settings import Settings


@dataclass
class ConsoleServices:
    """Database sessions, the payments service and the assistant client the console's views use."""

    session_factory: sessionmaker[Session]
    assistant: AssistantClient
    engine: Engine | None = None
    payments: PaymentsService | None = None

    async def aclose(self) -> None:
        """Close the assistant client and, when this object owns it, the engine."""
        await self.assistant.aclose()
        if self.engine is not None:
            self.engine.dispose()


def build_services(settings: Settings) -> ConsoleServices:
    """Services on the configured database and Rasa server."""
    engine = make_engine(settings.effective_database_url)
    session_factory = make_session_factory(engine)
    return ConsoleServices(
        session_factory=session_factory,
        assistant=RasaClient.from_settings(settings),
        engine=engine,
        payments=build_service(settings, session_factory=session_factory),
    )


def payments_of(request: Request) -> PaymentsService:
    """The app's PaymentsService (built with the other services)."""
    services: ConsoleServices = request.app.state.services
    assert services.payments is not None, "create_app gives every ConsoleServices a payments service"
    return services.payments


def templates_of(request: Request) -> Jinja2Templates:
    """The app's one template environment (console/templates)."""
    templates: Jinja2Templates = request.app.state.templates
    return templates
