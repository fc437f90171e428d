"""Attack 22: odd nonces on the Confirm / Cancel / claim paths (payments.confirming).

A summary's nonce comes back as a Rasa entity parsed from the button payload's JSON
(`/affirm{"draft_id": 7, "confirm_nonce": "…"}`): a payload typed in the console's test chat (or a
forged one) can carry any JSON string there, including a lone surrogate (`"\\ud800"`), which
`json.loads` accepts and UTF-8 cannot encode. payments.offers.digest encodes the nonce before
comparing, so such a nonce is not refused with a code (confirmation_invalid) as any other wrong
nonce is: the action fails with an UnicodeEncodeError (a 500 at the action server, "not
processed" at the edges), and `reissue_unanswered_offer` raises instead of answering None.

Real database (SQLite and PostgreSQL), localstripe.
"""

from __future__ import annotations

import pytest

from payments.errors import ConfirmationInvalidError, PaymentsError
from payments.service import PaymentsService
from payments.views import PaymentSummary
from tests.helpers.factories import make_paying_user, unique
from tests.payments.test_confirming import _charges, _status, _summary

pytestmark = pytest.mark.sandbox

LONE_SURROGATE = "\ud800"
# What is left of the nonce when a client cuts it, pads it, or sends it in full-width or
# other odd forms: all must be refused as a wrong nonce, the live summary kept as it was.
ODD = ["x", " ", "\u200b", "\uff21" * 16, "é" * 16, "\x00", "n" * 10_000]


@pytest.fixture
def live(payments_service: PaymentsService) -> tuple[int, str, PaymentSummary]:
    user_id, bills = make_paying_user(payments_service.session_factory, payments_service.gateway)
    conversation = f"tg-{unique('c')}"
    return user_id, conversation, _summary(payments_service, user_id, bills["electricity"], conversation)


def _confirm(service: PaymentsService, user_id: int, conversation: str, summary: PaymentSummary, nonce: str):
    return service.confirm_shown_summary(
        user_id=user_id,
        conversation=conversation,
        payment_id=summary.payment_id,
        nonce=nonce,
        shown_text=summary.summary_text,
        confirmation="/affirm",
    )


@pytest.mark.xfail(
    strict=True,
    raises=UnicodeEncodeError,
    reason="a nonce holding a lone surrogate crashes payments.offers.digest (UnicodeEncodeError) "
    "instead of being refused as confirmation_invalid",
)
def test_a_nonce_with_a_lone_surrogate_is_refused_with_a_code(
    payments_service: PaymentsService, live: tuple[int, str, PaymentSummary]
) -> None:
    user_id, conversation, summary = live
    with pytest.raises(ConfirmationInvalidError):
        _confirm(payments_service, user_id, conversation, summary, summary.confirm_nonce[:8] + LONE_SURROGATE)
    assert _charges(payments_service, summary.payment_id) == 0


@pytest.mark.xfail(
    strict=True,
    raises=UnicodeEncodeError,
    reason="a claim with a lone-surrogate nonce raises UnicodeEncodeError out of "
    "reissue_unanswered_offer instead of answering None (claimed nothing)",
)
def test_a_claim_with_a_lone_surrogate_nonce_claims_nothing(
    payments_service: PaymentsService, live: tuple[int, str, PaymentSummary]
) -> None:
    user_id, conversation, summary = live
    fresh = payments_service.confirmations.reissue_unanswered_offer(
        user_id=user_id, conversation=conversation, payment_id=summary.payment_id, nonce=LONE_SURROGATE
    )
    assert fresh is None


@pytest.mark.parametrize("odd", ODD, ids=lambda s: f"len{len(s)}-{s[:1].encode('unicode_escape').decode()}")
def test_held_odd_nonces_are_refused_and_the_live_summary_still_pays_once(
    payments_service: PaymentsService, live: tuple[int, str, PaymentSummary], odd: str
) -> None:
    """Held: a truncated, padded, full-width, NUL or huge nonce is refused as invalid, claims
    nothing, and leaves the summary live for its own Confirm (which pays once)."""
    user_id, conversation, summary = live
    with pytest.raises(ConfirmationInvalidError):
        _confirm(payments_service, user_id, conversation, summary, odd)
    truncated = summary.confirm_nonce[:-1]
    with pytest.raises(ConfirmationInvalidError):
        _confirm(payments_service, user_id, conversation, summary, truncated)
    assert (
        payments_service.confirmations.reissue_unanswered_offer(
            user_id=user_id, conversation=conversation, payment_id=summary.payment_id, nonce=odd
        )
        is None
    )
    assert _status(payments_service, summary.payment_id) == "draft"
    result = _confirm(payments_service, user_id, conversation, summary, summary.confirm_nonce)
    assert str(result.status) == "succeeded"
    with pytest.raises(PaymentsError):
        _confirm(payments_service, user_id, conversation, summary, summary.confirm_nonce)
    assert _charges(payments_service, summary.payment_id) == 1
