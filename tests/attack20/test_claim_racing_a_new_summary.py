"""Attack 20, held: claiming a lost tap (payments.confirming.Confirmations.reissue_unanswered_offer)
while the same conversation is shown a new summary does not leave two live offers on PostgreSQL.

The worry: the claim closes offer A and inserts A' under the user's row lock (SELECT ... FOR UPDATE),
while drafting (payments.drafting.Drafting.prepare_payment -> payments.offers.issue_offer) takes no
such lock, so its "close the conversation's open offers" UPDATE could wait on A's row lock, re-check
only A (READ COMMITTED) and never see A'. It holds, but only indirectly: the draft's INSERT into
payments checks its user_id foreign key with a KEY SHARE lock on the user's row, which waits for the
claim's FOR UPDATE, so the later UPDATE statement takes a snapshot that includes A'. (A weaker user
lock, FOR NO KEY UPDATE, or a draft without that foreign key would reopen it: drafting could take
lock_user itself to make it explicit.)

Real PostgreSQL (on SQLite the writers serialize), localstripe; the claim's transaction is held
for a moment after it closed A (an engine event), so the race is not left to luck.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import Engine, event, select

from db.models import SummaryOffer
from payments.errors import ConfirmationStaleError
from payments.service import PaymentsService
from tests.helpers.factories import make_paying_user, unique
from tests.payments.test_confirming import _charges, _summary, _tap

pytestmark = pytest.mark.sandbox


def test_a_claim_racing_a_new_summary_leaves_only_the_new_summary_live(
    payments_service: PaymentsService, db_engine: Engine
) -> None:
    if db_engine.dialect.name != "postgresql":
        pytest.skip("SQLite serializes the writers")
    user_id, bills = make_paying_user(
        payments_service.session_factory,
        payments_service.gateway,
        bills=(("electricity", 8420), ("water", 3150)),
    )
    conversation = f"tg-{unique('c')}"
    a = _summary(payments_service, user_id, bills["electricity"], conversation)
    claiming = threading.local()
    closed_a = threading.Event()

    def hold_after_close(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if getattr(claiming, "on", False) and statement.lstrip().upper().startswith("UPDATE SUMMARY_OFFERS"):
            closed_a.set()
            time.sleep(1.0)  # the claim holds A's row lock; the new summary's UPDATE waits on it

    fresh: list[str | None] = []

    def claim() -> None:
        claiming.on = True
        offer = payments_service.confirmations.reissue_unanswered_offer(
            user_id=user_id, conversation=conversation, payment_id=a.payment_id, nonce=a.confirm_nonce
        )
        fresh.append(None if offer is None else offer.nonce)

    event.listen(db_engine, "after_cursor_execute", hold_after_close)
    try:
        claimer = threading.Thread(target=claim)
        claimer.start()
        assert closed_a.wait(10.0)
        started = time.monotonic()
        b = _summary(payments_service, user_id, bills["water"], conversation)  # the newer summary
        waited = time.monotonic() - started
        claimer.join(10.0)
    finally:
        event.remove(db_engine, "after_cursor_execute", hold_after_close)
    [again] = fresh
    assert waited >= 0.5, f"the new summary did not wait for the claim ({waited:.2f} s): no race"
    assert again is not None  # the claim got in first: the bot offers "Try again" under A'
    with payments_service.session_factory() as session:
        live = session.scalars(
            select(SummaryOffer.payment_id).where(
                SummaryOffer.conversation == conversation, SummaryOffer.closed_at.is_(None)
            )
        ).all()
    try:
        with pytest.raises(ConfirmationStaleError):  # A' was superseded by B's summary
            payments_service.confirm_shown_summary(**_tap(user_id, conversation, a, again))  # type: ignore[arg-type]
    finally:
        assert live == [b.payment_id], f"live offers in the conversation: {live}"
        assert _charges(payments_service, a.payment_id) == 0
