"""Attack (issue 13 item 8): the consent receipt of an automatic charge, for disputes.

`paychat consent verify ID` (payments.consent.verify_receipt) is what support runs when a user
disputes a charge. For an autopay charge the user's real consent is the mandate's signed consent;
the payment's receipt only references it (id + sha256). If someone edits the mandate consent after
the fact (a bigger cap, a different summary), the payment's receipt still verifies "ok": the
verification never checks the consent the charge rests on. Real core, SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from db.models import Consent, MandateConsent, Payment
from payments.consent import verify_receipt
from payments.mandates import verify_mandate_consent
from payments.service import PaymentsService
from payments.statuses import PaymentStatus
from tests.attack13.test_mandates_revoked_still_charges import (
    T0,
    Clock,
    _bill,
    _mandate,
    _service,
    _user_with_biller,
)

pytestmark = pytest.mark.sandbox


def _autopay_charge(payments_service: PaymentsService) -> tuple[PaymentsService, int, int]:
    """(service, payment consent id, mandate consent id) of one succeeded automatic charge."""
    clock = Clock(T0)
    service = _service(payments_service, clock)
    user_id, biller = _user_with_biller(service)
    _mandate(service, user_id, biller, cap="40")
    clock.now = T0 + timedelta(minutes=1)
    bill_id = _bill(service, user_id, biller, 3500)
    service.run_mandates()
    with service.session_factory() as session:
        payment = session.execute(select(Payment).where(Payment.bill_id == bill_id)).scalar_one()
        assert payment.status == PaymentStatus.SUCCEEDED.value
        consent = session.execute(select(Consent).where(Consent.payment_id == payment.id)).scalar_one()
        assert consent.receipt is not None
        return service, consent.id, int(consent.receipt["mandate"]["consent_id"])


def test_holds_the_automatic_charges_receipt_verifies_and_names_the_mandate(
    payments_service: PaymentsService,
) -> None:
    service, consent_id, mandate_consent_id = _autopay_charge(payments_service)
    key = service.config.consent_signing_key
    with service.session_factory() as session:
        check = verify_receipt(session, consent_id=consent_id, key=key)
        assert check is not None and check.ok, check
        assert verify_mandate_consent(session, consent_id=mandate_consent_id, key=key)
        consent = session.get(Consent, consent_id)
        assert consent is not None and "mandate:" in consent.confirmation


def test_verifying_an_automatic_charge_checks_the_mandate_consent_it_rests_on(
    payments_service: PaymentsService,
) -> None:
    service, consent_id, mandate_consent_id = _autopay_charge(payments_service)
    key = service.config.consent_signing_key
    with service.session_factory.begin() as session:  # an insider rewrites what the user agreed to
        session.execute(
            update(MandateConsent)
            .where(MandateConsent.id == mandate_consent_id)
            .values(cap_minor=400_000, budget_minor=400_000, summary_text="Autopay up to €4,000 a bill")
        )
    with service.session_factory() as session:
        assert not verify_mandate_consent(session, consent_id=mandate_consent_id, key=key)  # it IS broken
        check = verify_receipt(session, consent_id=consent_id, key=key)
        assert check is not None
        assert not check.ok, "the charge's receipt verifies while the mandate consent behind it is forged"
