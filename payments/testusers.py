"""Test users for staff: create one with the demo bills and a sandbox card, or reset one to that state.

Only users flagged `is_test` are touched, so a real customer can never be reset. Resetting deletes
everything the user owns in the payments tables (payments, consents, scheduled payments, refunds,
notifications and whatever later tables hang off users, payments or bills — found through the
schema's foreign keys, so a new table is covered without a change here), then gives the user
fresh demo bills and makes sure the sandbox card is there. Kept: the user, their Stripe customer
and cards, their transcripts (the record of what was tested) and the append-only audit log, which
gets a row saying who reset whom.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import ColumnElement, Table, delete, or_, select
from sqlalchemy.orm import Session, sessionmaker

from db.models import Base, Payment, SavedPaymentMethod, User
from payments.audit import append_audit
from payments.demo import (
    DEMO_CURRENCY,
    DEMO_LOCALE,
    DEMO_TIMEZONE,
    VISA_3DS,
    VISA_DECLINES,
    VISA_SUCCEEDS,
    ensure_card,
    seed_demo_bills,
)
from payments.errors import PaymentNotFoundError, TestUserBusyError, TestUserRequiredError
from payments.gateway import PaymentGateway
from payments.statuses import PaymentStatus
from payments.unit_of_work import UnitOfWork, lock_user
from payments.views import UserView, user_view

# Rows that survive a reset: the person, their processor customer and cards, what they said
# (transcripts) and the audit log. Ownership is not followed through these tables either.
KEPT_TABLES = frozenset(
    {"users", "stripe_customers", "payment_methods", "conversations", "conversation_turns", "audit_log"}
)


class TestCard(StrEnum):
    """Which sandbox card a test user pays with (the demo's three behaviours)."""

    SUCCEEDS = "succeeds"
    DECLINES = "declines"
    SECURE_3DS = "3ds"
    __test__ = False  # not a pytest test class

    @property
    def number(self) -> str:
        """The sandbox test card number."""
        return _NUMBERS[self]


_NUMBERS = {TestCard.SUCCEEDS: VISA_SUCCEEDS, TestCard.DECLINES: VISA_DECLINES, TestCard.SECURE_3DS: VISA_3DS}
_BY_LAST4 = {number[-4:]: card for card, number in _NUMBERS.items()}


@dataclass(frozen=True)
class ResetReport:
    """What a reset removed, per table, and the card the user pays with afterwards."""

    user: UserView
    removed: dict[str, int]
    card: TestCard


def owned_rows(user_id: int, kept: frozenset[str] = KEPT_TABLES) -> dict[str, ColumnElement[bool]]:
    """For every table not `kept`, the condition selecting the rows owned by `user_id`.

    A row is owned when one of its foreign keys points at the user or at an owned row; tables are
    visited parents first (`sorted_tables`), so each condition can use its parents' conditions.
    """
    conditions: dict[str, ColumnElement[bool]] = {}
    users: Table = Base.metadata.tables["users"]
    for table in Base.metadata.sorted_tables:
        if table.name in kept:
            continue
        clauses: list[ColumnElement[bool]] = []
        for fk in table.foreign_keys:
            parent = fk.column.table
            if parent is users:
                clauses.append(fk.parent == user_id)
            elif parent.name in conditions:
                clauses.append(fk.parent.in_(select(fk.column).where(conditions[parent.name])))
        if clauses:
            conditions[table.name] = or_(*clauses)
    return conditions


class TestUsers:
    """Creating and resetting the console's test users."""

    __test__ = False  # not a pytest test class

    def __init__(
        self, uow: UnitOfWork, session_factory: sessionmaker[Session], gateway: PaymentGateway
    ) -> None:
        self._uow = uow
        self._session_factory = session_factory
        self._gateway = gateway

    def create_test_user(self, *, name: str, card: TestCard, created_by: str) -> UserView:
        """A new console-only test user with the demo bills and the chosen sandbox card."""
        with self._uow.tx() as session:
            user = User(
                name=name,
                locale=DEMO_LOCALE,
                timezone=DEMO_TIMEZONE,
                currency=DEMO_CURRENCY,
                is_test=True,
                created_at=self._uow.now(),
            )
            session.add(user)
            session.flush()
            seed_demo_bills(session, user.id)
            append_audit(
                session,
                event="test_user.created",
                user_id=user.id,
                data={"created_by": created_by, "card": card.value},
            )
            user_id = user.id
        try:
            ensure_card(self._session_factory, self._gateway, user_id=user_id, card_number=card.number)
        except Exception as error:
            # All or nothing: a user without their card is no test user (the processor refused or
            # is down); remove what was made, audited, and let the caller see the failure.
            self._remove_half_made(user_id, created_by=created_by, error=error)
            raise
        with self._uow.tx() as session:
            return user_view(session.get_one(User, user_id))

    def _remove_half_made(self, user_id: int, *, created_by: str, error: Exception) -> None:
        """Delete a test user whose creation failed and everything made for them (audited)."""
        with self._uow.tx() as session:
            user = self._test_user(session, user_id)
            conditions = owned_rows(user.id, kept=frozenset({"users", "audit_log"}))
            removed: dict[str, int] = {}
            for table in reversed(Base.metadata.sorted_tables):  # children first
                condition = conditions.get(table.name)
                if condition is None:
                    continue
                count = session.execute(delete(table).where(condition)).rowcount  # type: ignore[attr-defined]
                if count:
                    removed[table.name] = int(count)
            session.execute(delete(User).where(User.id == user.id, User.is_test.is_(True)))
            append_audit(
                session,
                event="test_user.creation_failed",
                user_id=user_id,
                data={
                    "created_by": created_by,
                    "error": type(error).__name__,
                    "removed": dict(sorted(removed.items())),
                },
            )

    def reset_test_user(self, *, user_id: int, reset_by: str) -> ResetReport:
        """Put a test user back to a fresh start: no payments, fresh demo bills, their sandbox card."""
        with self._uow.tx() as session:
            user = self._test_user(session, user_id)
            in_flight = session.execute(
                select(Payment.id).where(
                    Payment.user_id == user.id, Payment.status == PaymentStatus.PROCESSING.value
                )
            ).first()
            if in_flight is not None:
                raise TestUserBusyError(user_id=user_id)
            card = self._card_of(session, user.id)
            removed: dict[str, int] = {}
            conditions = owned_rows(user.id)
            # Children first: each delete still sees its parents' rows to select by.
            for table in reversed(Base.metadata.sorted_tables):
                condition = conditions.get(table.name)
                if condition is None:
                    continue
                count = session.execute(delete(table).where(condition)).rowcount  # type: ignore[attr-defined]
                if count:
                    removed[table.name] = int(count)
            seed_demo_bills(session, user.id)
            append_audit(
                session,
                event="test_user.reset",
                user_id=user.id,
                data={"reset_by": reset_by, "removed": dict(sorted(removed.items()))},
            )
        ensure_card(self._session_factory, self._gateway, user_id=user_id, card_number=card.number)
        with self._uow.tx() as session:
            return ResetReport(user=user_view(session.get_one(User, user_id)), removed=removed, card=card)

    @staticmethod
    def _test_user(session: Session, user_id: int) -> User:
        try:
            user = lock_user(session, user_id)
        except PaymentNotFoundError:
            raise TestUserRequiredError(user_id=user_id) from None
        if not user.is_test:
            raise TestUserRequiredError(user_id=user_id)
        return user

    @staticmethod
    def _card_of(session: Session, user_id: int) -> TestCard:
        last4 = session.execute(
            select(SavedPaymentMethod.last4)
            .where(SavedPaymentMethod.user_id == user_id)
            .order_by(SavedPaymentMethod.is_default.desc(), SavedPaymentMethod.id.desc())
        ).scalar()
        return _BY_LAST4.get(last4 or "", TestCard.SUCCEEDS)
