"""Transactions and the row loaders every room of the core shares.

`UnitOfWork` opens one transaction per `with uow.tx() as session:` and tells the time (a clock
tests can replace). The loaders check ownership: another user's bill or payment looks exactly like
a missing one, so no caller can learn that it exists.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from db.models import Bill, Biller, Payment, User, utcnow
from observability.metrics import PAYMENT_OUTCOMES
from observability.statements import count_statements
from payments.dates import today_in
from payments.errors import BillNotFoundError, PaymentNotFoundError
from payments.statuses import BillStatus

OPEN_BILL_STATUSES = (BillStatus.OPEN.value, BillStatus.PARTIALLY_PAID.value)
# session.info key: statuses payments reached in the session's transaction, counted at commit.
REACHED_STATUSES = "paychat_reached_statuses"


def note_status_reached(session: Session, status: str) -> None:
    """Count `status` in paychat_payment_outcomes when this transaction commits (not if it rolls back)."""
    session.info.setdefault(REACHED_STATUSES, []).append(status)


def _count_reached(session: Session) -> None:
    for status in session.info.pop(REACHED_STATUSES, ()):
        PAYMENT_OUTCOMES.labels(status=status).inc()


def _forget_reached(session: Session) -> None:
    session.info.pop(REACHED_STATUSES, None)


def count_outcomes_of(session_factory: sessionmaker[Session]) -> None:
    """Make the factory's sessions count the statuses their committed transactions reached (once)."""
    if not event.contains(session_factory, "after_commit", _count_reached):
        event.listen(session_factory, "after_commit", _count_reached)
        event.listen(session_factory, "after_rollback", _forget_reached)


class UnitOfWork:
    """Transactions on one session factory, and the clock the use cases read."""

    def __init__(
        self, session_factory: sessionmaker[Session], clock: Callable[[], datetime] = utcnow
    ) -> None:
        self.session_factory = session_factory
        self._clock = clock
        count_outcomes_of(session_factory)
        bind = session_factory.kw.get("bind")
        if isinstance(bind, Engine):
            count_statements(bind)

    @contextmanager
    def tx(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back when it raises."""
        with self.session_factory.begin() as session:
            yield session

    def now(self) -> datetime:
        """The current time (UTC)."""
        return self._clock()

    def today_of(self, user: User) -> date:
        """The user's calendar day now, in their time zone."""
        return today_in(user.timezone, self._clock())


def load_user(session: Session, user_id: int) -> User:
    """The user's row; PaymentNotFoundError when there is none."""
    user = session.get(User, user_id)
    if user is None:
        raise PaymentNotFoundError(user_id=user_id)
    return user


def lock_user(session: Session, user_id: int) -> User:
    """The user's row, locked until the transaction ends (SELECT … FOR UPDATE on PostgreSQL)."""
    user = session.execute(
        select(User).where(User.id == user_id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if user is None:
        raise PaymentNotFoundError(user_id=user_id)
    return user


def owned_bill(session: Session, user_id: int, bill_id: int) -> tuple[Bill, Biller]:
    """The user's open bill and its biller; BillNotFoundError for a missing, foreign or closed one."""
    row = session.execute(
        select(Bill, Biller).join(Biller, Bill.biller_id == Biller.id).where(Bill.id == bill_id)
    ).first()
    # Someone else's bill looks exactly like a missing one: no existence oracle.
    if row is None or row[0].user_id != user_id or row[0].status not in OPEN_BILL_STATUSES:
        raise BillNotFoundError(bill_id=bill_id)
    return row[0], row[1]


def owned_payment(session: Session, user_id: int, payment_id: int, *, fresh: bool = False) -> Payment:
    """The user's payment; PaymentNotFoundError for a missing or foreign one.

    `fresh`: read from the database even when the session holds it (after taking a row lock).
    """
    payment = session.get(Payment, payment_id, populate_existing=fresh)
    if payment is None or payment.user_id != user_id:
        raise PaymentNotFoundError(payment_id=payment_id)
    return payment


def payment_by_intent(session: Session, payment_intent_id: str) -> Payment | None:
    """The payment a processor's PaymentIntent id belongs to, if any."""
    return session.execute(
        select(Payment).where(Payment.payment_intent_id == payment_intent_id)
    ).scalar_one_or_none()


def rowcount(result: Any) -> int:
    """How many rows an UPDATE changed (the compare-and-set's verdict)."""
    return int(cast(CursorResult[Any], result).rowcount)
