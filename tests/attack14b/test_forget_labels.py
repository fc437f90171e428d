"""attack14b: "/forget" (erasure on request) leaves the user's message text in the review labels,
from where the next `paychat-tune export` writes it into the NLU training file."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from db.models import ReviewLabel
from tests.helpers.factories import make_user
from transcripts import record_turn
from transcripts.forgetting import forget_conversations
from tuning.export import export
from tuning.review import save_label

# A message whose personal data redaction misses (see test_redaction_leaks.py): it is kept as typed.
MESSAGE = "Account holder: Anna Weber, pay my rent"


def test_forget_removes_the_users_text_from_labels_and_exports(db_session: Session, tmp_path: Path) -> None:
    user = make_user(db_session)
    view = record_turn(
        db_session,
        sender_id="tg-424242",
        channel="telegram",
        user_id=user.id,
        is_test=False,
        user_text=MESSAGE,
        turn={"parse": {"intent": {"name": "nlu_fallback", "confidence": 0.2}}, "replies": [], "events": []},
    )
    save_label(
        db_session, turn_id=view.id, intent="pay_bill", entities=[], staff_id=None, staff_username="reviewer"
    )
    assert forget_conversations(db_session, user_id=user.id, sender_ids=["tg-424242"]) == 1
    db_session.flush()

    left = [row.text for row in db_session.scalars(select(ReviewLabel))]
    exported = export(db_session, tmp_path).nlu_path.read_text(encoding="utf-8")
    assert not any("Weber" in text for text in left)
    assert "Weber" not in exported
