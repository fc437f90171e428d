"""Factory helpers for tests: users, billers, bills, cards — keyword-only, real rows."""

from __future__ import annotations

import itertools
from datetime import date, timedelta

from sqlalchemy.orm import Session, sessionmaker

from db.models import Bill, Biller, SavedPaymentMethod, StripeCustomer, User
from payments.demo import VISA_SUCCEEDS, ensure_card
from payments.gateway import PaymentGateway
from payments.views import DraftTerms

_counter = itertools.count(1)


def unique(prefix: str) -> str:
    """A name no other factory call in this process returns."""
    return f"{prefix}-{next(_counter)}-{id(_counter)}"


def make_user(
    session: Session,
    *,
    name: str = "Test User",
    telegram_user_id: int | None = None,
    locale: str = "en_IE",
    timezone: str = "Europe/Berlin",
    currency: str = "EUR",
    is_test: bool = True,
) -> User:
    """Insert a user."""
    user = User(
        name=name,
        telegram_user_id=telegram_user_id,
        locale=locale,
        timezone=timezone,
        currency=currency,
        is_test=is_test,
    )
    session.add(user)
    session.flush()
    return user


def make_biller(
    session: Session,
    *,
    name: str | None = None,
    category: str = "utility",
    currency: str = "EUR",
    aliases: list[str] | None = None,
) -> Biller:
    """Insert a biller (unique name by default)."""
    biller = Biller(
        name=name or unique("Biller"), category=category, currency=currency, aliases=aliases or []
    )
    session.add(biller)
    session.flush()
    return biller


def make_bill(
    session: Session,
    *,
    user: User,
    biller: Biller,
    amount_minor: int = 8420,
    currency: str = "EUR",
    due_in_days: int = 10,
    reference: str | None = None,
    status: str = "open",
) -> Bill:
    """Insert a bill for `user` from `biller`."""
    bill = Bill(
        user_id=user.id,
        biller_id=biller.id,
        reference=reference or unique("REF"),
        amount_due_minor=amount_minor,
        currency=currency,
        due_date=date.today() + timedelta(days=due_in_days),
        status=status,
    )
    session.add(bill)
    session.flush()
    return bill


def make_offline_card(session: Session, *, user: User, last4: str = "4242") -> SavedPaymentMethod:
    """A saved card with made-up Stripe ids (for tests that never reach the gateway)."""
    customer = StripeCustomer(user_id=user.id, stripe_customer_id=unique("cus_offline"))
    session.add(customer)
    session.flush()
    card = SavedPaymentMethod(
        user_id=user.id,
        customer_id=customer.id,
        stripe_payment_method_id=unique("pm_offline"),
        brand="visa",
        last4=last4,
        exp_month=12,
        exp_year=2034,
    )
    session.add(card)
    session.flush()
    return card


def make_paying_user(
    session_factory: sessionmaker[Session],
    gateway: PaymentGateway,
    *,
    card_number: str = VISA_SUCCEEDS,
    bills: tuple[tuple[str, int], ...] = (("electricity", 8420),),
    locale: str = "en_IE",
    currency: str = "EUR",
) -> tuple[int, dict[str, int]]:
    """A committed user with a sandbox card and fresh bills; returns (user id, category → bill id)."""
    bill_ids: dict[str, int] = {}
    with session_factory.begin() as session:
        user = make_user(session, name=unique("Payer"), locale=locale, currency=currency)
        for category, amount_minor in bills:
            biller = make_biller(session, category=category, currency=currency, aliases=[unique(category)])
            bill_ids[category] = make_bill(
                session, user=user, biller=biller, amount_minor=amount_minor, currency=currency
            ).id
        user_id = user.id
    ensure_card(session_factory, gateway, user_id=user_id, card_number=card_number)
    return user_id, bill_ids


def edge_summary(terms: DraftTerms) -> str:
    """A summary worded the way the conversation's domain words it (a stand-in for the action's renderer)."""
    card = f"{terms.card_brand.capitalize()} •••• {terms.card_last4}"
    bill = f"{terms.biller_name} (bill {terms.bill_reference})"
    return f"Pay {terms.amount_text} to {bill} with {card} on {terms.pay_on_text}."
