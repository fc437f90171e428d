"""attack14b: the review page's script counts offsets in UTF-16 code units (JavaScript strings, and
the HTML parser turns "\\r\\n" into "\\n"), the server slices the text by code points: after an emoji
or a CRLF every span the reviewer marks is saved shifted, so the label trains the wrong words."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from tests.helpers.factories import make_user
from transcripts import record_turn
from tuning.review import save_label


def _browser_offset(text: str, index: int) -> int:
    """What review.js's offsetOf() returns for the code point `index`: Range.toString().length of
    the text as the DOM holds it (CRLF normalised to LF by the HTML parser, UTF-16 units)."""
    shown = text[:index].replace("\r\n", "\n")
    return len(shown.encode("utf-16-le")) // 2


@pytest.mark.parametrize(
    "message",
    [
        "\U0001f600 pay 40 for the phone",
        "thanks \U0001f64f\U0001f3fd pay 40 for the phone",
        "hi\r\npay 40 for the phone",
    ],
    ids=["emoji", "emoji_with_skin_tone", "crlf"],
)
def test_a_span_marked_in_the_browser_is_the_text_the_reviewer_selected(
    db_session: Session, message: str
) -> None:
    user = make_user(db_session)
    view = record_turn(
        db_session,
        sender_id="tg-7007",
        channel="telegram",
        user_id=user.id,
        is_test=False,
        user_text=message,
        turn={"parse": {"intent": {"name": "nlu_fallback", "confidence": 0.1}}, "replies": [], "events": []},
    )
    index = message.index("40")
    posted = {
        "start": _browser_offset(message, index),
        "end": _browser_offset(message, index + 2),
        "entity": "amount",
    }
    label = save_label(
        db_session, turn_id=view.id, intent="pay_bill", entities=[posted], staff_id=None, staff_username="rev"
    )
    assert [span.value for span in label.entities] == ["40"]
