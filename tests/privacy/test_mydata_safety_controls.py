"""/mydata and /forget reach issue 13's safety controls (GDPR art. 15 and 17).

The export (`PaymentsService.export_user_data`, behind the bot's /mydata and the console) holds the
user's standing mandates, their consents, the worker's decisions on their bills under them, their
risk decisions and their step-up codes' records, and never a secret that checks the user: a code's
keyed hash or sealed plain code, an offer's nonce (or its hash). Nobody else's rows appear. Forgetting
revokes the mandates, cancels open offers and clears the summaries of offers never signed, while a
signed mandate consent stays whole and verifiable, like a payment's consent receipt.

The real core on SQLite and PostgreSQL against the Stripe sandbox.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import select, text

from db.models import (
    Bill,
    Biller,
    Mandate,
    MandateBillDecision,
    MandateConsent,
    RiskDecision,
    StepUpChallenge,
    User,
)
from payments.audit import verify_audit_chain
from payments.config import RiskConfig
from payments.mandates import MandateStatus, verify_mandate_consent
from payments.service import PaymentsService
from tests.helpers.factories import edge_summary, make_paying_user, unique

pytestmark = pytest.mark.sandbox

# A payment over this needs a one-time code; risk checks on (the card-age rule off: every test
# user's card was added a moment ago).
STEP_UP_MINOR = 50_000
CONFIRMED_WITH = "yes, set it up (Jolanda here)"
# Columns that check the user and must never leave the database in an export.
SECRET_COLUMNS = {"code_hash", "code_sealed", "nonce_sha256"}


@dataclass(frozen=True)
class Customer:
    """One user with a mandate that asked about a bill, a risk decision and a pending code."""

    user_id: int
    mandate_id: int
    offer_nonce: str
    code: str
    water_biller: str


def _service(base: PaymentsService) -> PaymentsService:
    config = dataclasses.replace(
        base.config,
        step_up_minor=STEP_UP_MINOR,
        risk=RiskConfig(enabled=True, new_card_age=timedelta(0)),
    )
    return PaymentsService(session_factory=base.session_factory, gateway=base.gateway, config=config)


def _customer(service: PaymentsService) -> Customer:
    user_id, bills = make_paying_user(
        service.session_factory, service.gateway, bills=(("phone", 1000), ("rent", 90_000), ("water", 2000))
    )
    with service.session_factory.begin() as session:
        phone = session.get_one(Bill, bills["phone"])
        phone.status = "void"  # only bills arriving after the mandate are its business
        phone_biller = session.get_one(Biller, phone.biller_id).name
        water_biller = session.get_one(Biller, session.get_one(Bill, bills["water"]).biller_id).name
    offer = service.mandates.propose(user_id=user_id, biller_text=phone_biller, cap_text="40")
    mandate = service.mandates.confirm(
        user_id=user_id, offer_id=offer.offer_id, nonce=offer.nonce, shown_text=offer.summary_text,
        confirmation=CONFIRMED_WITH,
    )  # fmt: skip
    service.autopay.issue_bill(
        user_id=user_id, biller_name=phone_biller, reference=unique("B"), amount_minor=4_001,
        due_date=date.today() + timedelta(days=10),
    )  # fmt: skip
    service.run_mandates()  # over the cap: the worker asks the user (a decision row)
    draft = service.draft_payment(
        user_id=user_id, bill_id=bills["rent"], amount_text="600", date_text=None, render_summary=edge_summary
    )
    service.confirm_payment(
        user_id=user_id, payment_id=draft.payment_id, consent_text="y", confirmation="yes"
    )  # risk-checked, then waits for its code
    [note] = service.pending_codes_for(user_id=user_id)
    assert note.code is not None
    return Customer(user_id, mandate.id, offer.nonce, note.code, water_biller)


def _leaves(value: Any) -> list[Any]:
    """Every key and scalar value in a JSON-ready structure."""
    if isinstance(value, dict):
        return [*value.keys(), *(leaf for item in value.values() for leaf in _leaves(item))]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return [value]


def _ids(data: dict[str, Any], section: str) -> set[int]:
    return {int(row["id"]) for row in data[section]}


def test_the_export_holds_mandates_risk_decisions_and_codes(payments_service: PaymentsService) -> None:
    service = _service(payments_service)
    customer = _customer(service)

    data = json.loads(json.dumps(service.export_user_data(user_id=customer.user_id)))  # JSON-ready

    [mandate] = data["mandates"]
    assert mandate["id"] == customer.mandate_id and mandate["status"] == MandateStatus.ACTIVE.value
    assert (mandate["cap_minor"], mandate["budget_minor"], mandate["currency"]) == (4000, 4000, "EUR")
    assert mandate["card"]["last4"] and date.fromisoformat(mandate["expires_on"])
    [consent] = data["mandate_consents"]
    assert consent["id"] == mandate["consent_id"] and consent["closed_reason"] == "confirmed"
    assert consent["summary_text"] and consent["confirmation"] == CONFIRMED_WITH
    assert consent["signature"] and len(consent["receipt_hash"]) == 64
    assert consent["offered_at"] and consent["confirmed_at"] == consent["closed_at"]
    [decision] = data["mandate_bill_decisions"]
    assert (decision["mandate_id"], decision["decision"], decision["payment_id"]) == (
        customer.mandate_id, "asked", None,
    )  # fmt: skip
    assert decision["reason"] and decision["decided_at"]
    [risk] = data["risk_decisions"]
    assert risk["decision"] in {"allow", "step_up"} and isinstance(risk["score"], int)
    assert isinstance(risk["reasons"], list) and risk["payment_id"] and risk["created_at"]
    [challenge] = data["step_up_challenges"]
    assert challenge["payment_id"] == risk["payment_id"] and challenge["status"] == "pending"
    assert challenge["attempts"] == 0 and challenge["reasons"] and challenge["expires_at"]
    assert challenge["closed_at"] is None


def test_no_code_hash_sealed_code_or_nonce_ever_appears_in_the_export(
    payments_service: PaymentsService,
) -> None:
    service = _service(payments_service)
    customer = _customer(service)
    with service.session_factory() as session:
        challenge = session.execute(
            select(StepUpChallenge).where(StepUpChallenge.user_id == customer.user_id)
        ).scalar_one()
        offer = session.execute(
            select(MandateConsent).where(MandateConsent.user_id == customer.user_id)
        ).scalar_one()
        code_hash, nonce_hash = challenge.code_hash, offer.nonce_sha256
        assert challenge.code_sealed == customer.code  # still sealed: not delivered yet
        sealed_token = session.execute(  # as stored: the Fernet token
            text("SELECT code_sealed FROM step_up_challenges WHERE id = :id"), {"id": challenge.id}
        ).scalar_one()

    data = service.export_user_data(user_id=customer.user_id)
    dumped, leaves = json.dumps(data), _leaves(data)

    assert not SECRET_COLUMNS & {leaf for leaf in leaves if isinstance(leaf, str)}  # no such key
    for secret in (code_hash, nonce_hash, sealed_token, customer.offer_nonce):
        assert secret and secret not in dumped
    assert customer.code not in leaves  # the plain code is no value (digits may occur in hashes)


def test_another_users_rows_never_appear(payments_service: PaymentsService) -> None:
    service = _service(payments_service)
    mine, theirs = _customer(service), _customer(service)

    exports = {c.user_id: service.export_user_data(user_id=c.user_id) for c in (mine, theirs)}

    with service.session_factory() as session:
        for customer in (mine, theirs):
            data, user_id = exports[customer.user_id], customer.user_id
            owned = {
                "mandates": select(Mandate.id).where(Mandate.user_id == user_id),
                "mandate_consents": select(MandateConsent.id).where(MandateConsent.user_id == user_id),
                "mandate_bill_decisions": select(MandateBillDecision.id)
                .join(Mandate, MandateBillDecision.mandate_id == Mandate.id)
                .where(Mandate.user_id == user_id),
                "risk_decisions": select(RiskDecision.id).where(RiskDecision.user_id == user_id),
                "step_up_challenges": select(StepUpChallenge.id).where(StepUpChallenge.user_id == user_id),
            }
            for section, query in owned.items():
                assert _ids(data, section) == set(session.scalars(query)) != set(), section
    for section in ("mandates", "mandate_consents", "mandate_bill_decisions", "risk_decisions"):
        assert not _ids(exports[mine.user_id], section) & _ids(exports[theirs.user_id], section), section


def test_forgetting_revokes_mandates_clears_unsigned_offers_and_keeps_signed_consents(
    payments_service: PaymentsService,
) -> None:
    service = _service(payments_service)
    customer = _customer(service)
    # An offer left open for another biller: a proposed mandate the user never confirmed.
    open_offer = service.mandates.propose(
        user_id=customer.user_id, biller_text=customer.water_biller, cap_text="30"
    )
    key = service.config.consent_signing_key

    service.forget_user(user_id=customer.user_id)

    with service.session_factory() as session:
        assert session.get_one(User, customer.user_id).forgotten_at is not None
        signed = session.get_one(Mandate, customer.mandate_id)
        proposed = session.get_one(Mandate, open_offer.mandate_id)
        assert signed.status == MandateStatus.REVOKED.value
        assert proposed.status == MandateStatus.CANCELLED.value
        unsigned = session.get_one(MandateConsent, open_offer.offer_id)
        assert (unsigned.closed_reason, unsigned.summary_text) == ("cancelled", "")
        assert unsigned.confirmation is None and unsigned.closed_at is not None
        consent = session.get_one(MandateConsent, signed.consent_id)
        # Evidence for the automatic charges kept under the anonymized id: whole and still verifying.
        assert consent.confirmation == CONFIRMED_WITH and consent.summary_text
        assert verify_mandate_consent(session, consent_id=consent.id, key=key)
        assert verify_audit_chain(session).ok
    after = service.export_user_data(user_id=customer.user_id)
    assert {row["status"] for row in after["mandates"]} == {"revoked", "cancelled"}
    assert [row["status"] for row in after["step_up_challenges"]] == ["cancelled"]
