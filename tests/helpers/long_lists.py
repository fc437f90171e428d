"""A Telegram user with many bills and a long payment history (issue 15: history and long lists).

`make_busy_user` writes the rows directly (no gateway): 60 open bills and 200 payments a user
should see — succeeded, failed, scheduled and staff-refused ones — plus drafts and drafts
cancelled before they were confirmed, which history must leave out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from db.models import Payment, ScheduledPayment
from tests.helpers.factories import make_bill, make_biller, make_offline_card, make_user, unique

BILLS = 60
SHOWN_PAYMENTS = 200
HIDDEN_DRAFTS = 15  # 10 drafts cancelled before confirming, 5 open drafts
SCHEDULED_EVERY = 10  # every 10th shown payment is scheduled
LATE_UTC = datetime(2026, 1, 31, 23, 30, tzinfo=UTC)  # already 1 Feb in Auckland


@dataclass(frozen=True)
class BusyUser:
    """What was written: the user's ids and the billers' names."""

    user_id: int
    telegram_user_id: int
    biller_names: list[str]
    scheduled_ids: set[int]


def make_busy_user(session_factory: sessionmaker[Session], telegram_user_id: int) -> BusyUser:
    """A user in Pacific/Auckland with 60 open bills and 200 payments to show (and drafts to hide)."""
    with session_factory.begin() as session:
        user = make_user(
            session, telegram_user_id=telegram_user_id, timezone="Pacific/Auckland", is_test=False
        )
        card = make_offline_card(session, user=user)
        bills = []
        names = []
        for n in range(BILLS):
            biller = make_biller(session, name=f"Biller {n:02d} {unique('b')}")
            names.append(biller.name)
            bills.append(
                make_bill(session, user=user, biller=biller, amount_minor=1000 + n, due_in_days=n % 28)
            )
        scheduled: set[int] = set()
        for n in range(SHOWN_PAYMENTS + HIDDEN_DRAFTS):
            created = LATE_UTC - timedelta(hours=n)
            status, confirmed, completed = "succeeded", created, created
            if n >= SHOWN_PAYMENTS:
                status, confirmed, completed = ("cancelled" if n % 3 else "draft"), None, None
            elif n % SCHEDULED_EVERY == 5:
                status, completed = "approved", None
            elif n % 17 == 3:
                status = "failed"
            elif n % 23 == 4:
                status, completed = "cancelled", None  # consented, refused by staff: shown
            payment = Payment(
                user_id=user.id,
                bill_id=bills[n % BILLS].id,
                payment_method_id=card.id,
                amount_minor=100 + n,
                currency="EUR",
                status=status,
                pay_on=date(2026, 3, 1) if status == "approved" else created.date(),
                summary_text="summary",
                idempotency_key=unique("idem"),
                created_at=created,
                updated_at=created,
                confirmed_at=confirmed,
                completed_at=completed,
            )
            session.add(payment)
            session.flush()
            if status == "approved":
                scheduled.add(payment.id)
                session.add(
                    ScheduledPayment(
                        user_id=user.id,
                        bill_id=payment.bill_id,
                        payment_id=payment.id,
                        amount_minor=payment.amount_minor,
                        currency="EUR",
                        pay_on=payment.pay_on,
                    )
                )
        return BusyUser(user.id, telegram_user_id, names, scheduled)
