"""The transcript view annotates a turn only with a payment of that conversation's user (issue 10).

A user can put any `payment_id` into a slot (a typed payload such as `/inform{"payment_id": "7"}`),
and the turn was then recorded and shown as "payment #7: succeeded" although payment 7 is
somebody else's: staff reviewing transcripts see a payment the user never made, and learn another
customer's payment status. The check lives in the transcript code (transcripts/recording.py).
"""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from db.models import Bill, Biller, Payment, SavedPaymentMethod, StripeCustomer
from tests.console.conftest import FakeChannel, Seed, channel_body, login

BACKENDS = pytest.mark.parametrize(
    "console_database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def someone_elses_payment(session: Session, user_id: int) -> int:
    """A succeeded payment of `user_id` (a real customer, not the test user who chats)."""
    customer = StripeCustomer(user_id=user_id, stripe_customer_id=f"cus_victim_{user_id}")
    biller = Biller(name="Victim Utility", category="electricity", currency="EUR", aliases=["victim"])
    session.add_all([customer, biller])
    session.flush()
    card = SavedPaymentMethod(
        user_id=user_id,
        customer_id=customer.id,
        stripe_payment_method_id=f"pm_victim_{user_id}",
        brand="visa",
        last4="4242",
        exp_month=12,
        exp_year=2030,
    )
    bill = Bill(
        user_id=user_id,
        biller_id=biller.id,
        reference="V-1",
        amount_due_minor=5000,
        currency="EUR",
        due_date=date(2030, 1, 1),
    )
    session.add_all([card, bill])
    session.flush()
    payment = Payment(
        user_id=user_id,
        bill_id=bill.id,
        payment_method_id=card.id,
        amount_minor=5000,
        currency="EUR",
        status="succeeded",
        pay_on=date(2030, 1, 1),
        summary_text="Pay Victim Utility",
        idempotency_key=f"victim-{user_id}",
    )
    session.add(payment)
    session.flush()
    return payment.id


@BACKENDS
def test_a_forged_payment_id_is_not_shown_as_the_users_payment(
    client: TestClient, seed: Seed, fake_channel: FakeChannel, session_factory: sessionmaker[Session]
) -> None:
    with session_factory.begin() as session:
        victim = someone_elses_payment(session, seed.customer_id)
    forged = f'/inform{{"payment_id": "{victim}"}}'
    fake_channel.bodies += [
        channel_body(
            "Sorry, I didn't get that.",
            intent="inform",
            slots={"payment_id": str(victim)},
            events=[
                {"event": "user", "text": forged},
                {"event": "slot", "name": "payment_id", "value": str(victim)},
                {"event": "action", "name": "action_listen"},
            ],
        ),
        channel_body("Anything else?", intent="greet", slots={"payment_id": str(victim)}),
    ]
    headers = {"X-CSRF-Token": login(client, "tester")}

    first = client.post("/api/chat", json={"session": "forge_1", "text": forged}, headers=headers)
    second = client.post("/api/chat", json={"session": "forge_1", "text": "hello"}, headers=headers)

    assert first.status_code == second.status_code == 200
    assert first.json()["payment"] is None  # the turn that set the slot
    assert second.json()["payment"] is None  # a turn that inherits the previous turn's slots
    detail = client.get(f"/api/transcripts/{first.json()['conversation_id']}").json()
    assert [(t["payment_id"], t["payment_status"]) for t in detail["turns"]] == [(None, None), (None, None)]
    assert detail["summary"]["payment_statuses"] == []
    page = client.get(f"/transcripts/{first.json()['conversation_id']}")
    assert page.status_code == 200 and f"payment #{victim}" not in page.text
