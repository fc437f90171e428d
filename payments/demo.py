"""Demo data, loaded idempotently: billers, demo users with open bills, sandbox customers and cards.

Alex Demo pays with a succeeding Visa 4242; Dana Decline holds the card that is declined at charge
time (4000000000000341); Sam Secure the 3-D Secure card (4000002760003184). Demo users are
console-only: they have no Telegram id (any id could belong to a real Telegram account, whose
owner would then chat as the demo user) and are found by their `demo_key`. A new Telegram user in
demo mode gets demo bills and a card of their own (`provision_demo_user`).
Cards are created from raw test numbers only in the sandbox; on real Stripe (test mode) the
gateway uses Stripe's test tokens instead. `python -m payments.demo` migrates and seeds (and in
production only migrates).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from db.models import Bill, Biller, SavedPaymentMethod, StripeCustomer, User
from payments.gateway import PaymentGateway

VISA_SUCCEEDS = "4242424242424242"
VISA_DECLINES = "4000000000000341"
VISA_3DS = "4000002760003184"


@dataclass(frozen=True)
class DemoBiller:
    """A biller of the demo, with the bill each demo user owes it."""

    name: str
    category: str
    aliases: tuple[str, ...]
    amount_minor: int
    due_in_days: int


@dataclass(frozen=True)
class DemoUser:
    """A demo user (found by `key`) and the test card they pay with."""

    key: str
    name: str
    card_number: str


DEMO_BILLERS = (
    DemoBiller(
        "Stadtwerke", "electricity", ("electricity", "power", "strom", "stadtwerke", "energy"), 8420, 9
    ),
    DemoBiller("Vodafone", "phone", ("phone", "mobile", "handy", "vodafone", "cell phone"), 3999, 12),
    DemoBiller("Hausverwaltung Berger", "rent", ("rent", "miete", "landlord", "flat", "apartment"), 95000, 5),
    DemoBiller("Berliner Wasserbetriebe", "water", ("water", "wasser"), 3250, 20),
    DemoBiller("Telekom", "internet", ("internet", "broadband", "wifi", "dsl", "telekom"), 4495, 15),
)
ALEX, DANA, SAM = "alex", "dana", "sam"
DEMO_USERS = (
    DemoUser(ALEX, "Alex Demo", VISA_SUCCEEDS),
    DemoUser(DANA, "Dana Decline", VISA_DECLINES),
    DemoUser(SAM, "Sam Secure", VISA_3DS),
)
DEMO_LOCALE = "en_IE"
DEMO_TIMEZONE = "Europe/Berlin"
DEMO_CURRENCY = "EUR"


def load_demo_data(session_factory: sessionmaker[Session], gateway: PaymentGateway | None) -> dict[str, int]:
    """Create (or complete) the demo billers, users, bills and cards; returns demo key → users.id."""
    user_ids: dict[str, int] = {}
    with session_factory.begin() as session:
        _ensure_billers(session)
        for demo in DEMO_USERS:
            user = session.execute(select(User).where(User.demo_key == demo.key)).scalar()
            if user is None:
                user = User(
                    demo_key=demo.key,
                    name=demo.name,
                    locale=DEMO_LOCALE,
                    timezone=DEMO_TIMEZONE,
                    currency=DEMO_CURRENCY,
                    is_test=True,
                )
                session.add(user)
                session.flush()
            user_ids[demo.key] = user.id
            _ensure_bills(session, user.id)
    if gateway is not None:
        for demo in DEMO_USERS:
            ensure_card(
                session_factory,
                gateway,
                user_id=user_ids[demo.key],
                card_number=demo.card_number,
            )
    return user_ids


def demo_user_id(session: Session, key: str = ALEX) -> int | None:
    """users.id of the demo user `key` (Alex Demo by default), or None before the demo data is loaded."""
    return session.execute(select(User.id).where(User.demo_key == key)).scalar()


def provision_demo_user(
    session_factory: sessionmaker[Session], gateway: PaymentGateway, *, user_id: int
) -> None:
    """Give a new (demo-mode) user the demo bills and a succeeding test card."""
    with session_factory.begin() as session:
        _ensure_billers(session)
        _ensure_bills(session, user_id)
    ensure_card(session_factory, gateway, user_id=user_id, card_number=VISA_SUCCEEDS)


def seed_demo_bills(session: Session, user_id: int) -> None:
    """Give a user the demo billers' bills they do not have yet (inside the caller's transaction)."""
    _ensure_billers(session)
    _ensure_bills(session, user_id)


def ensure_card(
    session_factory: sessionmaker[Session], gateway: PaymentGateway, *, user_id: int, card_number: str
) -> None:
    """Make sure the user has a live Stripe customer with this test card saved (sandbox resets heal)."""
    with session_factory.begin() as session:
        user = session.get(User, user_id)
        assert user is not None
        customer = session.execute(select(StripeCustomer).where(StripeCustomer.user_id == user_id)).scalar()
        customer_id = customer.stripe_customer_id if customer else None
        name = user.name
        has_card = (
            session.execute(
                select(SavedPaymentMethod.id).where(
                    SavedPaymentMethod.user_id == user_id, SavedPaymentMethod.last4 == card_number[-4:]
                )
            ).first()
            is not None
        )
    if customer_id and has_card and gateway.customer_exists(customer_id):
        return
    if not customer_id or not gateway.customer_exists(customer_id):
        customer_id = gateway.create_customer(
            name=name, user_id=user_id, idempotency_key=customer_idempotency_key(user_id)
        )
    card = gateway.add_test_card(
        customer_id=customer_id,
        card_number=card_number,
        idempotency_key=card_idempotency_key(user_id, customer_id, card_number),
    )
    with session_factory.begin() as session:
        row = session.execute(select(StripeCustomer).where(StripeCustomer.user_id == user_id)).scalar()
        if row is None:
            row = StripeCustomer(user_id=user_id, stripe_customer_id=customer_id)
            session.add(row)
        else:
            row.stripe_customer_id = customer_id
        session.flush()
        session.execute(
            update(SavedPaymentMethod).where(SavedPaymentMethod.user_id == user_id).values(is_default=False)
        )
        session.add(
            SavedPaymentMethod(
                user_id=user_id,
                customer_id=row.id,
                stripe_payment_method_id=card.payment_method_id,
                brand=card.brand,
                last4=card.last4,
                exp_month=card.exp_month,
                exp_year=card.exp_year,
                is_default=True,
            )
        )


def customer_idempotency_key(user_id: int) -> str:
    """The key of the Stripe write creating this user's customer: a retry replays the first one."""
    return f"paychat-customer-{user_id}"


def card_idempotency_key(user_id: int, customer_id: str, card_number: str) -> str:
    """The key of the writes saving this test card for this customer (last four digits only)."""
    # The customer id is part of it: after a sandbox reset the user's new customer needs the card
    # again, and an old key would replay the attach to the customer that no longer exists.
    return f"paychat-card-{user_id}-{customer_id}-{card_number[-4:]}"


def _ensure_billers(session: Session) -> None:
    existing = set(session.execute(select(Biller.name)).scalars())
    for demo in DEMO_BILLERS:
        if demo.name not in existing:
            session.add(
                Biller(
                    name=demo.name, category=demo.category, currency=DEMO_CURRENCY, aliases=list(demo.aliases)
                )
            )
    session.flush()


def _ensure_bills(session: Session, user_id: int) -> None:
    billers = {b.name: b for b in session.execute(select(Biller)).scalars()}
    today = date.today()
    for demo in DEMO_BILLERS:
        biller = billers[demo.name]
        reference = f"DEMO-{demo.category.upper()}-{user_id}"
        found = session.execute(
            select(Bill.id).where(
                Bill.user_id == user_id, Bill.biller_id == biller.id, Bill.reference == reference
            )
        ).first()
        if found is None:
            session.add(
                Bill(
                    user_id=user_id,
                    biller_id=biller.id,
                    reference=reference,
                    amount_due_minor=demo.amount_minor,
                    currency=DEMO_CURRENCY,
                    due_date=today + timedelta(days=demo.due_in_days),
                    status="open",
                )
            )
    session.flush()


def main() -> None:
    """Migrate the configured database and load the demo data (`python -m payments.demo`)."""
    from db.engine import make_engine, make_session_factory
    from db.migrate import upgrade
    from payments.stripe_gateway import build_gateway
    from settings import get_settings

    settings = get_settings()
    upgrade(settings.effective_database_url)
    if settings.is_production:
        print("database migrated; no demo data in production")
        return
    engine = make_engine(settings.effective_database_url)
    ids = load_demo_data(make_session_factory(engine), build_gateway(settings))
    engine.dispose()
    print(f"demo data loaded (console-only demo users): users {sorted(ids.values())}")


if __name__ == "__main__":
    main()
