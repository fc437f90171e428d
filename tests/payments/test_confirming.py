"""Issue 10 item 2: only the live summary's own Confirm, once, on its exact text, moves money.

Real database (SQLite and PostgreSQL), real localstripe through the stripe SDK.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from db.models import Consent, Payment, SummaryOffer
from payments.errors import (
    ConfirmationAmountError,
    ConfirmationInvalidError,
    ConfirmationStaleError,
    ConfirmationUsedError,
    ConsentMismatchError,
    PaymentNotFoundError,
    PaymentsError,
)
from payments.service import PaymentsService
from payments.statuses import PaymentStatus
from payments.views import PaymentSummary
from tests.helpers.factories import edge_summary, make_paying_user, unique

pytestmark = pytest.mark.sandbox


def _summary(
    service: PaymentsService, user_id: int, bill_id: int, conversation: str, **kw: object
) -> PaymentSummary:
    """What action_prepare_payment asks for: a draft shown as `conversation`'s live summary."""
    previous = kw.pop("replacing", None)
    return service.prepare_payment(
        user_id=user_id,
        biller_text=None,
        bill_id=bill_id,
        amount_text=kw.pop("amount_text", None),  # type: ignore[arg-type]
        date_text=None,
        replacing_payment_id=previous,  # type: ignore[arg-type]
        render_summary=edge_summary,
        conversation=conversation,
    )


def _status(service: PaymentsService, payment_id: int) -> str:
    with service.session_factory() as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None
        return payment.status


def _charges(service: PaymentsService, payment_id: int) -> int:
    """PaymentIntents the gateway created for this payment (by its recorded intent id) — 0 or 1."""
    with service.session_factory() as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None
        return 1 if payment.payment_intent_id else 0


@pytest.fixture
def two_summaries(payments_service: PaymentsService) -> tuple[int, str, PaymentSummary, PaymentSummary]:
    """Summary A (84.20) then, after a correction, summary B (5.00) in one conversation."""
    user_id, bills = make_paying_user(payments_service.session_factory, payments_service.gateway)
    conversation = f"tg-{unique('c')}"
    a = _summary(payments_service, user_id, bills["electricity"], conversation)
    b = _summary(
        payments_service, user_id, bills["electricity"], conversation, amount_text="5", replacing=a.payment_id
    )
    return user_id, conversation, a, b


def test_every_summary_in_a_conversation_gets_its_own_nonce_and_only_digests_are_stored(
    payments_service: PaymentsService, two_summaries: tuple[int, str, PaymentSummary, PaymentSummary]
) -> None:
    _, conversation, a, b = two_summaries
    assert a.confirm_nonce and b.confirm_nonce and a.confirm_nonce != b.confirm_nonce
    with payments_service.session_factory() as session:
        offers = (
            session.execute(
                select(SummaryOffer)
                .where(SummaryOffer.conversation == conversation)
                .order_by(SummaryOffer.id)
            )
            .scalars()
            .all()
        )
    assert [(o.payment_id, o.closed_reason) for o in offers] == [
        (a.payment_id, "superseded"),
        (b.payment_id, None),
    ]
    assert all(a.confirm_nonce not in o.nonce_sha256 and len(o.nonce_sha256) == 64 for o in offers)


def test_a_tap_on_a_superseded_summary_charges_nothing_and_leaves_the_live_one_as_it_was(
    payments_service: PaymentsService, two_summaries: tuple[int, str, PaymentSummary, PaymentSummary]
) -> None:
    user_id, conversation, a, b = two_summaries

    with pytest.raises(ConfirmationStaleError):
        payments_service.confirm_shown_summary(
            user_id=user_id,
            conversation=conversation,
            payment_id=a.payment_id,
            nonce=a.confirm_nonce,
            shown_text=a.summary_text,
            confirmation="/affirm",
        )

    assert _status(payments_service, a.payment_id) == "cancelled"
    assert _status(payments_service, b.payment_id) == "draft"
    assert _charges(payments_service, a.payment_id) == _charges(payments_service, b.payment_id) == 0
    # The live summary is still confirmable, once, and is charged exactly once.
    result = payments_service.confirm_shown_summary(
        user_id=user_id,
        conversation=conversation,
        payment_id=b.payment_id,
        nonce=b.confirm_nonce,
        shown_text=b.summary_text,
        confirmation="/affirm",
    )
    assert result.status == PaymentStatus.SUCCEEDED and result.amount.amount_minor == 500
    with payments_service.session_factory() as session:
        consent = session.execute(select(Consent).where(Consent.payment_id == b.payment_id)).scalar_one()
        assert consent.summary_text == b.summary_text


def test_an_old_nonce_naming_the_live_draft_is_refused(
    payments_service: PaymentsService, two_summaries: tuple[int, str, PaymentSummary, PaymentSummary]
) -> None:
    """A forged payload pairing A's nonce with B's draft id does not confirm B."""
    user_id, conversation, a, b = two_summaries
    with pytest.raises(ConfirmationInvalidError):
        payments_service.confirm_shown_summary(
            user_id=user_id,
            conversation=conversation,
            payment_id=b.payment_id,
            nonce=a.confirm_nonce,
            shown_text=b.summary_text,
        )
    assert _status(payments_service, b.payment_id) == "draft"


def test_a_replayed_tap_charges_once_and_says_it_was_used(
    payments_service: PaymentsService, two_summaries: tuple[int, str, PaymentSummary, PaymentSummary]
) -> None:
    user_id, conversation, _, b = two_summaries
    tap = {
        "user_id": user_id,
        "conversation": conversation,
        "payment_id": b.payment_id,
        "nonce": b.confirm_nonce,
        "shown_text": b.summary_text,
    }
    assert payments_service.confirm_shown_summary(**tap).status == PaymentStatus.SUCCEEDED  # type: ignore[arg-type]
    with pytest.raises(ConfirmationUsedError):
        payments_service.confirm_shown_summary(**tap)  # type: ignore[arg-type]
    # A typed "yes" afterwards refers to the same, used summary.
    with pytest.raises(ConfirmationUsedError):
        payments_service.confirm_shown_summary(**{**tap, "nonce": None})  # type: ignore[arg-type]
    with payments_service.session_factory() as session:
        consents = session.execute(
            select(func.count()).select_from(Consent).where(Consent.payment_id == b.payment_id)
        ).scalar_one()
    assert consents == 1


def test_concurrent_taps_of_one_summary_charge_once(
    payments_service: PaymentsService, two_summaries: tuple[int, str, PaymentSummary, PaymentSummary]
) -> None:
    user_id, conversation, _, b = two_summaries

    def tap() -> str:
        try:
            return str(
                payments_service.confirm_shown_summary(
                    user_id=user_id,
                    conversation=conversation,
                    payment_id=b.payment_id,
                    nonce=b.confirm_nonce,
                    shown_text=b.summary_text,
                ).status
            )
        except PaymentsError as error:
            return error.code

    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = sorted(pool.map(lambda _: tap(), range(4)))
    assert outcomes.count("succeeded") == 1, outcomes
    assert set(outcomes) == {"succeeded", "confirmation_used"}, outcomes


def test_a_typed_yes_confirms_only_the_latest_live_summary(
    payments_service: PaymentsService, two_summaries: tuple[int, str, PaymentSummary, PaymentSummary]
) -> None:
    user_id, conversation, a, b = two_summaries
    with pytest.raises(ConfirmationStaleError):
        payments_service.confirm_shown_summary(
            user_id=user_id,
            conversation=conversation,
            payment_id=a.payment_id,
            nonce=None,
            shown_text=a.summary_text,
        )
    assert _status(payments_service, b.payment_id) == "draft"
    result = payments_service.confirm_shown_summary(
        user_id=user_id,
        conversation=conversation,
        payment_id=b.payment_id,
        nonce=None,
        shown_text=b.summary_text,
        confirmation="yes",
    )
    assert result.status == PaymentStatus.SUCCEEDED


def test_a_text_other_than_the_issued_summary_is_refused(
    payments_service: PaymentsService, two_summaries: tuple[int, str, PaymentSummary, PaymentSummary]
) -> None:
    user_id, conversation, a, b = two_summaries
    for shown in (a.summary_text, b.summary_text.replace("€5.00", "€0.05"), ""):
        with pytest.raises(ConsentMismatchError):
            payments_service.confirm_shown_summary(
                user_id=user_id,
                conversation=conversation,
                payment_id=b.payment_id,
                nonce=b.confirm_nonce,
                shown_text=shown,
            )
    assert _status(payments_service, b.payment_id) == "draft"
    # The refusals left the offer live.
    result = payments_service.confirm_shown_summary(
        user_id=user_id,
        conversation=conversation,
        payment_id=b.payment_id,
        nonce=b.confirm_nonce,
        shown_text=b.summary_text,
    )
    assert result.status == PaymentStatus.SUCCEEDED


def test_another_users_nonce_does_nothing(
    payments_service: PaymentsService, two_summaries: tuple[int, str, PaymentSummary, PaymentSummary]
) -> None:
    user_id, conversation, _, b = two_summaries
    mallory, _ = make_paying_user(payments_service.session_factory, payments_service.gateway)
    for sender in (conversation, f"tg-{unique('m')}"):
        with pytest.raises((ConfirmationInvalidError, PaymentNotFoundError)):
            payments_service.confirm_shown_summary(
                user_id=mallory,
                conversation=sender,
                payment_id=b.payment_id,
                nonce=b.confirm_nonce,
                shown_text=b.summary_text,
            )
    # The same user in another conversation (another console session) cannot use it either.
    with pytest.raises(ConfirmationInvalidError):
        payments_service.confirm_shown_summary(
            user_id=user_id,
            conversation=conversation + "-other",
            payment_id=b.payment_id,
            nonce=b.confirm_nonce,
            shown_text=b.summary_text,
        )
    assert _status(payments_service, b.payment_id) == "draft"


def test_a_stale_cancel_leaves_the_live_summary_and_the_live_cancel_cancels_it(
    payments_service: PaymentsService, two_summaries: tuple[int, str, PaymentSummary, PaymentSummary]
) -> None:
    user_id, conversation, a, b = two_summaries
    with pytest.raises(ConfirmationStaleError):
        payments_service.cancel_shown_summary(
            user_id=user_id, conversation=conversation, payment_id=a.payment_id, nonce=a.confirm_nonce
        )
    assert _status(payments_service, b.payment_id) == "draft"
    view = payments_service.cancel_shown_summary(
        user_id=user_id, conversation=conversation, payment_id=b.payment_id, nonce=b.confirm_nonce
    )
    assert view.status == PaymentStatus.CANCELLED
    with pytest.raises(ConfirmationStaleError):
        payments_service.confirm_shown_summary(
            user_id=user_id,
            conversation=conversation,
            payment_id=b.payment_id,
            nonce=b.confirm_nonce,
            shown_text=b.summary_text,
        )


@pytest.mark.parametrize("typed", ["sure, 5 please", "confirm 4", "yes, a fiver", "ok twenty"])
def test_a_typed_yes_naming_an_amount_charges_nothing_and_keeps_the_summary(
    payments_service: PaymentsService,
    two_summaries: tuple[int, str, PaymentSummary, PaymentSummary],
    typed: str,
) -> None:
    user_id, conversation, _, b = two_summaries
    with pytest.raises(ConfirmationAmountError):
        payments_service.confirm_shown_summary(
            user_id=user_id,
            conversation=conversation,
            payment_id=b.payment_id,
            nonce=None,
            shown_text=b.summary_text,
            confirmation=typed,
        )
    assert _status(payments_service, b.payment_id) == "draft"
    result = payments_service.confirm_shown_summary(
        user_id=user_id,
        conversation=conversation,
        payment_id=b.payment_id,
        nonce=None,
        shown_text=b.summary_text,
        confirmation="yes",
    )
    assert result.status == PaymentStatus.SUCCEEDED


def test_asking_to_change_withdraws_the_live_summary(
    payments_service: PaymentsService, two_summaries: tuple[int, str, PaymentSummary, PaymentSummary]
) -> None:
    user_id, conversation, _, b = two_summaries
    assert payments_service.withdraw_shown_summaries(user_id=user_id, conversation=conversation) == 1
    for nonce in (None, b.confirm_nonce):
        with pytest.raises(ConfirmationStaleError):
            payments_service.confirm_shown_summary(
                user_id=user_id,
                conversation=conversation,
                payment_id=b.payment_id,
                nonce=nonce,
                shown_text=b.summary_text,
                confirmation="yes",
            )
    assert _status(payments_service, b.payment_id) == "draft"


def _tap(user_id: int, conversation: str, summary: PaymentSummary, nonce: str | None) -> dict[str, object]:
    return dict(
        user_id=user_id,
        conversation=conversation,
        payment_id=summary.payment_id,
        nonce=nonce,
        shown_text=summary.summary_text,
        confirmation="/affirm",
    )


def test_a_lost_tap_is_claimed_and_then_charges_nothing_while_the_summary_is_offered_again(
    payments_service: PaymentsService, two_summaries: tuple[int, str, PaymentSummary, PaymentSummary]
) -> None:
    """Attack 19: the bot is told "not carried out" only once the lost tap can no longer be."""
    user_id, conversation, _, b = two_summaries
    offers = payments_service.confirmations
    claim = dict(user_id=user_id, conversation=conversation, payment_id=b.payment_id)
    fresh = offers.reissue_unanswered_offer(**claim, nonce=b.confirm_nonce)  # type: ignore[arg-type]
    assert fresh is not None and fresh.payment_id == b.payment_id and fresh.nonce != b.confirm_nonce
    # The lost Confirm arrives late: its offer is closed, nothing is charged, the draft still waits.
    with pytest.raises(ConfirmationStaleError):
        payments_service.confirm_shown_summary(**_tap(user_id, conversation, b, b.confirm_nonce))  # type: ignore[arg-type]
    assert (_status(payments_service, b.payment_id), _charges(payments_service, b.payment_id)) == ("draft", 0)
    assert offers.reissue_unanswered_offer(**claim, nonce=b.confirm_nonce) is None  # type: ignore[arg-type]
    with payments_service.session_factory() as session:
        offered = session.scalars(select(SummaryOffer).where(SummaryOffer.payment_id == b.payment_id))
        assert [o.closed_reason for o in offered] == ["superseded", None]
    # Try again carries the fresh nonce and the same shown text: it charges, once.
    again = _tap(user_id, conversation, b, fresh.nonce)
    assert payments_service.confirm_shown_summary(**again).status == PaymentStatus.SUCCEEDED  # type: ignore[arg-type]
    assert offers.reissue_unanswered_offer(**claim, nonce=fresh.nonce) is None  # type: ignore[arg-type]
    with pytest.raises(ConfirmationUsedError):
        payments_service.confirm_shown_summary(**again)  # type: ignore[arg-type]
    assert _charges(payments_service, b.payment_id) == 1


def test_only_the_live_offer_of_its_own_user_and_nonce_is_claimed(
    payments_service: PaymentsService, two_summaries: tuple[int, str, PaymentSummary, PaymentSummary]
) -> None:
    user_id, conversation, a, b = two_summaries
    offers = payments_service.confirmations

    def claimed(summary: PaymentSummary, **kw: object) -> bool:
        args: dict[str, object] = dict(
            user_id=user_id,
            conversation=conversation,
            payment_id=summary.payment_id,
            nonce=summary.confirm_nonce,
        )
        args.update(kw)
        return offers.reissue_unanswered_offer(**args) is not None  # type: ignore[arg-type]

    assert claimed(a) is False  # superseded by b: a tap under it charges nothing anyway
    assert claimed(b, nonce="forged") is False
    assert claimed(b, user_id=user_id + 10_000) is False
    assert claimed(b, conversation="tg-someone-else") is False
    assert claimed(b, payment_id=b.payment_id + 10_000) is False
    # None of those touched the live summary: its own Confirm still charges.
    confirmed = payments_service.confirm_shown_summary(**_tap(user_id, conversation, b, b.confirm_nonce))  # type: ignore[arg-type]
    assert confirmed.status == PaymentStatus.SUCCEEDED
    assert claimed(b) is False  # carried out: the bot points to the payment instead


def test_a_lost_tap_racing_its_claim_either_charges_or_is_claimed_never_both(
    payments_service: PaymentsService, two_summaries: tuple[int, str, PaymentSummary, PaymentSummary]
) -> None:
    """The claim takes the lock the Confirm takes first: whichever gets it, the other loses."""
    user_id, conversation, _, b = two_summaries
    summary = b
    outcomes: list[tuple[bool, str]] = []
    for _ in range(4):

        def confirm(shown: PaymentSummary = summary) -> str:
            try:
                tap = _tap(user_id, conversation, shown, shown.confirm_nonce)
                return str(payments_service.confirm_shown_summary(**tap).status)  # type: ignore[arg-type]
            except PaymentsError as error:
                return error.code

        def claim(shown: PaymentSummary = summary) -> bool:
            fresh = payments_service.confirmations.reissue_unanswered_offer(
                user_id=user_id,
                conversation=conversation,
                payment_id=shown.payment_id,
                nonce=shown.confirm_nonce,
            )
            return fresh is not None

        with ThreadPoolExecutor(max_workers=2) as pool:
            confirmed, claimed = pool.submit(confirm), pool.submit(claim)
            outcome = (claimed.result(), confirmed.result())
        outcomes.append(outcome)
        charged = _charges(payments_service, summary.payment_id)
        assert outcome in ((True, "confirmation_stale"), (False, "succeeded")), outcomes
        assert charged == (0 if outcome[0] else 1), outcomes
        bill_id = _bill_of(payments_service, summary.payment_id)
        summary = _summary(payments_service, user_id, bill_id, conversation, amount_text="1")


def _bill_of(service: PaymentsService, payment_id: int) -> int:
    with service.session_factory() as session:
        payment = session.get(Payment, payment_id)
        assert payment is not None
        return payment.bill_id
