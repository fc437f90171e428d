"""Standing mandates (autopay): offers and consent, caps, budgets, expiry in the user's zone,
pause/resume/revoke, the consent behind each automatic charge, and concurrent worker rounds.

Runs on SQLite and PostgreSQL against the Stripe sandbox (real charges through the normal path).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from db.models import AuditLogEntry, Bill, Biller, Consent, Mandate, Notification, Payment, User, utcnow
from payments.consent import verify_receipt
from payments.errors import ConsentMismatchError
from payments.mandates import (
    MandateBudgetBelowCapError,
    MandateExistsError,
    MandateNotChangeableError,
    MandateOfferStaleError,
    MandateStatus,
    expiry_day,
    verify_mandate_consent,
)
from payments.service import PaymentsService, ServiceConfig
from payments.statuses import NotificationKind, PaymentStatus
from tests.helpers.factories import make_paying_user, unique

pytestmark = pytest.mark.sandbox


def _service_at(base: PaymentsService, moment: datetime) -> PaymentsService:
    return PaymentsService(
        session_factory=base.session_factory,
        gateway=base.gateway,
        config=ServiceConfig(),
        clock=lambda: moment,
    )


def _user_with_biller(service: PaymentsService, timezone: str = "Europe/Berlin") -> tuple[int, str]:
    """A paying user (sandbox card) and the name of a biller they have a bill from."""
    user_id, bills = make_paying_user(service.session_factory, service.gateway, bills=(("phone", 1000),))
    with service.session_factory.begin() as session:
        user = session.get(User, user_id)
        assert user is not None
        user.timezone = timezone
        user.telegram_user_id = 9_000_000_000 + user_id  # reachable: the outbox tells them
        bill = session.get(Bill, bills["phone"])
        assert bill is not None
        bill.status = "void"  # the old bill is not the mandate's business: only bills arriving after
        biller = session.get(Biller, bill.biller_id)
        assert biller is not None
        return user_id, biller.name


def _mandate(
    service: PaymentsService, user_id: int, biller: str, cap: str = "40", expiry: str | None = "June",
    budget: str | None = None,
) -> int:  # fmt: skip
    offer = service.mandates.propose(
        user_id=user_id, biller_text=biller, cap_text=cap, expiry_text=expiry, budget_text=budget
    )
    view = service.mandates.confirm(
        user_id=user_id, offer_id=offer.offer_id, nonce=offer.nonce, shown_text=offer.summary_text
    )
    assert view.status == MandateStatus.ACTIVE
    return view.id


def _bill(service: PaymentsService, user_id: int, biller: str, amount_minor: int) -> int:
    return service.autopay.issue_bill(
        user_id=user_id, biller_name=biller, reference=unique("B"), amount_minor=amount_minor,
        due_date=date.today() + timedelta(days=10),
    ).id  # fmt: skip


def _payments_of(service: PaymentsService, bill_id: int) -> list[Payment]:
    with service.session_factory() as session:
        return list(session.execute(select(Payment).where(Payment.bill_id == bill_id)).scalars())


def _needs_you(service: PaymentsService, bill_id: int) -> int:
    with service.session_factory() as session:
        return int(
            session.execute(
                select(func.count()).where(
                    Notification.bill_id == bill_id,
                    Notification.kind == NotificationKind.BILL_NEEDS_YOU.value,
                )
            ).scalar_one()
        )


def test_a_bill_within_the_mandate_is_paid_with_a_consent_that_references_it(
    payments_service: PaymentsService,
) -> None:
    user_id, biller = _user_with_biller(payments_service)
    mandate_id = _mandate(payments_service, user_id, biller)
    bill_id = _bill(payments_service, user_id, biller, 3500)

    report = payments_service.run_mandates()

    [payment] = _payments_of(payments_service, bill_id)
    assert report.paid == (payment.id,) and payment.mandate_id == mandate_id
    assert payment.status == PaymentStatus.SUCCEEDED.value and payment.payment_intent_id
    with payments_service.session_factory() as session:
        consent = session.execute(select(Consent).where(Consent.payment_id == payment.id)).scalar_one()
        mandate = session.get(Mandate, mandate_id)
        assert mandate is not None and consent.receipt is not None
        reference = consent.receipt["mandate"]
        assert reference["id"] == mandate_id and reference["consent_id"] == mandate.consent_id
        key = payments_service.config.consent_signing_key
        assert verify_mandate_consent(session, consent_id=reference["consent_id"], key=key)
        check = verify_receipt(session, consent_id=consent.id, key=key)
        assert check is not None and check.ok, check
        # The user is told through the outbox, as autopay.
        note = session.execute(select(Notification).where(Notification.payment_id == payment.id)).scalar_one()
        assert note.kind == NotificationKind.SUCCEEDED.value
    [view] = [n for n in payments_service.pending_notifications(limit=500) if n.payment_id == payment.id]
    assert view.autopay and view.kind == NotificationKind.SUCCEEDED
    assert view.pay_bill_id is None  # an outcome offers no "Pay now"
    # Once per bill: a second round does nothing more.
    assert not payments_service.run_mandates().paid


def test_a_bill_over_the_cap_is_asked_about_once(payments_service: PaymentsService) -> None:
    user_id, biller = _user_with_biller(payments_service)
    _mandate(payments_service, user_id, biller, cap="40")
    bill_id = _bill(payments_service, user_id, biller, 4001)

    assert payments_service.run_mandates().asked == (bill_id,)
    payments_service.run_mandates()
    assert _payments_of(payments_service, bill_id) == [] and _needs_you(payments_service, bill_id) == 1
    # Its message offers paying that bill, as a reminder does ("Pay now", bot.notify).
    [view] = [n for n in payments_service.pending_notifications(limit=500) if n.bill_id == bill_id]
    assert view.kind == NotificationKind.BILL_NEEDS_YOU and view.pay_bill_id == bill_id


def test_the_monthly_budget_is_not_exceeded(payments_service: PaymentsService) -> None:
    user_id, biller = _user_with_biller(payments_service)
    _mandate(payments_service, user_id, biller, cap="30", budget="50")
    first = _bill(payments_service, user_id, biller, 3000)
    second = _bill(payments_service, user_id, biller, 2500)  # 30 + 25 > 50

    payments_service.run_mandates()

    assert [p.status for p in _payments_of(payments_service, first)] == ["succeeded"]
    assert _payments_of(payments_service, second) == [] and _needs_you(payments_service, second) == 1


def test_the_budget_counts_the_calendar_month_in_the_users_zone(payments_service: PaymentsService) -> None:
    user_id, biller = _user_with_biller(payments_service, timezone="Pacific/Auckland")
    _mandate(payments_service, user_id, biller, cap="30", budget="30", expiry="in 3 months")
    now = utcnow()
    _bill(payments_service, user_id, biller, 3000)
    payments_service.run_mandates()
    # Next calendar month in Auckland: the budget is fresh again.
    local = now.astimezone(ZoneInfo("Pacific/Auckland"))
    first_next = (local.replace(day=28) + timedelta(days=4)).replace(day=1, hour=1, minute=0)
    later = _service_at(payments_service, first_next.astimezone(ZoneInfo("UTC")))
    second = later.autopay.issue_bill(
        user_id=user_id, biller_name=biller, reference=unique("B"), amount_minor=3000, due_date=date.today()
    ).id
    later.run_mandates()
    assert [p.status for p in _payments_of(payments_service, second)] == ["succeeded"]


def test_a_mandate_stops_after_its_last_day_in_the_users_zone(payments_service: PaymentsService) -> None:
    user_id, biller = _user_with_biller(payments_service, timezone="Pacific/Kiritimati")  # UTC+14
    mandate_id = _mandate(payments_service, user_id, biller, expiry="tomorrow")
    local_today = utcnow().astimezone(ZoneInfo("Pacific/Kiritimati")).date()
    # Midnight after its last day in Kiritimati: still "tomorrow" in UTC, but the mandate is over.
    end = datetime.combine(
        local_today + timedelta(days=2), datetime.min.time(), ZoneInfo("Pacific/Kiritimati")
    )
    after = _service_at(payments_service, end.astimezone(ZoneInfo("UTC")) + timedelta(minutes=1))
    bill_id = _bill(after, user_id, biller, 1000)
    report = after.run_mandates()
    assert report.expired >= 1 and bill_id not in report.asked
    assert _payments_of(payments_service, bill_id) == []
    with payments_service.session_factory() as session:
        mandate = session.get(Mandate, mandate_id)
        assert mandate is not None and mandate.status == MandateStatus.EXPIRED.value


def test_expiry_named_by_month_is_its_last_day() -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=ZoneInfo("UTC"))
    assert expiry_day("June", timezone="Europe/Berlin", now=now) == date(2027, 6, 30)
    assert expiry_day("15 June", timezone="Europe/Berlin", now=now) == date(2027, 6, 15)


def test_paused_asks_resumed_pays_revoked_stops(payments_service: PaymentsService) -> None:
    user_id, biller = _user_with_biller(payments_service)
    _mandate(payments_service, user_id, biller)
    assert payments_service.mandates.pause(user_id=user_id, biller_text=biller).status == MandateStatus.PAUSED
    with pytest.raises(MandateNotChangeableError):
        payments_service.mandates.pause(user_id=user_id, biller_text=biller)
    paused_bill = _bill(payments_service, user_id, biller, 1000)
    assert payments_service.run_mandates().asked == (paused_bill,)

    payments_service.mandates.resume(user_id=user_id, biller_text=biller)
    paid_bill = _bill(payments_service, user_id, biller, 1000)
    payments_service.run_mandates()
    assert [p.status for p in _payments_of(payments_service, paid_bill)] == ["succeeded"]

    revoked = payments_service.mandates.revoke(user_id=user_id, biller_text=biller)
    assert revoked.status == MandateStatus.REVOKED
    after = _bill(payments_service, user_id, biller, 1000)
    payments_service.run_mandates()
    assert _payments_of(payments_service, after) == [] and _needs_you(payments_service, after) == 0
    with payments_service.session_factory() as session:
        events = set(
            session.execute(select(AuditLogEntry.event).where(AuditLogEntry.user_id == user_id)).scalars()
        )
    assert {"mandate.consented", "mandate.paused", "mandate.active", "mandate.revoked"} <= events


def test_a_change_is_a_new_consent_and_offers_are_one_time(payments_service: PaymentsService) -> None:
    user_id, biller = _user_with_biller(payments_service)
    mandate_id = _mandate(payments_service, user_id, biller)
    with pytest.raises(MandateExistsError):
        payments_service.mandates.propose(user_id=user_id, biller_text=biller, cap_text="10")
    with pytest.raises(MandateBudgetBelowCapError):
        payments_service.mandates.propose_change(user_id=user_id, biller_text=biller, budget_text="5")
    offer = payments_service.mandates.propose_change(user_id=user_id, biller_text=biller, cap_text="50")
    with pytest.raises(MandateOfferStaleError):
        payments_service.mandates.confirm(
            user_id=user_id, offer_id=offer.offer_id, nonce="forged", shown_text=offer.summary_text
        )
    with pytest.raises(ConsentMismatchError):
        payments_service.mandates.confirm(
            user_id=user_id, offer_id=offer.offer_id, nonce=offer.nonce, shown_text="something else"
        )
    view = payments_service.mandates.confirm(
        user_id=user_id, offer_id=offer.offer_id, nonce=offer.nonce, shown_text=offer.summary_text
    )
    assert view.id == mandate_id and view.cap.amount_minor == 5000 and view.budget.amount_minor == 5000
    with pytest.raises(MandateOfferStaleError):  # used once
        payments_service.mandates.confirm(
            user_id=user_id, offer_id=offer.offer_id, nonce=offer.nonce, shown_text=offer.summary_text
        )
    bill_id = _bill(payments_service, user_id, biller, 4500)
    payments_service.run_mandates()
    assert [p.status for p in _payments_of(payments_service, bill_id)] == ["succeeded"]


def test_an_unconfirmed_offer_pays_nothing(payments_service: PaymentsService) -> None:
    user_id, biller = _user_with_biller(payments_service)
    offer = payments_service.mandates.propose(user_id=user_id, biller_text=biller, cap_text="40")
    payments_service.mandates.cancel_offer(user_id=user_id, offer_id=offer.offer_id, nonce=offer.nonce)
    bill_id = _bill(payments_service, user_id, biller, 1000)
    payments_service.run_mandates()
    assert (
        _payments_of(payments_service, bill_id) == []
        and payments_service.mandates.list_mandates(user_id=user_id) == []
    )


def test_a_cancel_without_a_tap_naming_an_offer_withdraws_only_that_one(
    payments_service: PaymentsService,
) -> None:
    # "stop" in an autopay's code form names the form's offer (no nonce): a newer offer of the user's
    # (a summary shown since) is never withdrawn in its place.
    user_id, biller = _user_with_biller(payments_service)
    older = payments_service.mandates.propose(user_id=user_id, biller_text=biller, cap_text="40")
    newer = payments_service.mandates.propose(user_id=user_id, biller_text=biller, cap_text="30")
    with pytest.raises(MandateOfferStaleError):
        payments_service.mandates.cancel_offer(user_id=user_id, offer_id=older.offer_id, nonce=None)
    # the newer one is still open:
    payments_service.mandates.cancel_offer(user_id=user_id, offer_id=newer.offer_id, nonce=newer.nonce)


def test_the_users_limits_still_hold(payments_service: PaymentsService) -> None:
    user_id, biller = _user_with_biller(payments_service)
    _mandate(payments_service, user_id, biller, cap="40")
    with payments_service.session_factory.begin() as session:
        user = session.get(User, user_id)
        assert user is not None
        user.per_payment_limit_minor = 2000
    bill_id = _bill(payments_service, user_id, biller, 2500)
    payments_service.run_mandates()
    assert _payments_of(payments_service, bill_id) == [] and _needs_you(payments_service, bill_id) == 1


def test_concurrent_rounds_charge_each_bill_once_and_keep_the_budget(
    payments_service: PaymentsService,
) -> None:
    user_id, biller = _user_with_biller(payments_service)
    _mandate(payments_service, user_id, biller, cap="30", budget="50")
    bills = [_bill(payments_service, user_id, biller, 2000) for _ in range(3)]  # 3 x 20 > 50
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda _: payments_service.run_mandates(), range(4)))
    payments = [p for bill_id in bills for p in _payments_of(payments_service, bill_id)]
    assert len(payments) == 2 and len({p.bill_id for p in payments}) == 2
    assert all(p.status == PaymentStatus.SUCCEEDED.value for p in payments)
    assert sum(_needs_you(payments_service, bill_id) for bill_id in bills) == 1
    intents = {p.payment_intent_id for p in payments}
    assert len(intents) == 2 and None not in intents


def test_forgetting_the_user_revokes_their_mandates(payments_service: PaymentsService) -> None:
    user_id, biller = _user_with_biller(payments_service)
    mandate_id = _mandate(payments_service, user_id, biller)
    payments_service.forget_user(user_id=user_id)
    bill_id = _bill(payments_service, user_id, biller, 1000)
    payments_service.run_mandates()
    assert _payments_of(payments_service, bill_id) == []
    with payments_service.session_factory() as session:
        mandate = session.get(Mandate, mandate_id)
        assert mandate is not None and mandate.status == MandateStatus.REVOKED.value


def test_my_phone_bill_names_the_users_phone_company_whatever_else_the_catalogue_holds(
    payments_service: PaymentsService,
) -> None:
    # CI found it by test order: another test had added a second biller of category "phone", and
    # "pay my phone bill every month" was answered "could be more than one bill".
    user_id, biller_name = _user_with_biller(payments_service)
    with payments_service.session_factory.begin() as session:
        session.add(Biller(name=unique("Other Phone Co"), category="phone", currency="EUR", aliases=[]))
    offer = payments_service.mandates.propose(user_id=user_id, biller_text="phone", cap_text="40")
    assert biller_name in offer.summary_text
