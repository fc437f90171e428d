"""Rendering assistant turns as Telegram messages: splitting, keyboards, short callback keys."""

from __future__ import annotations

from bot import texts
from bot.rendering import (
    MAX_CALLBACK_BYTES,
    MAX_MESSAGE_CHARS,
    PayloadStore,
    render_turn,
    split_text,
    summary_tap,
)
from rasa_client import AssistantTurn, Button, Reply


def _turn(*replies: Reply) -> AssistantTurn:
    return AssistantTurn(replies=list(replies), parse={}, slots={}, events=[])


def test_long_text_is_split_at_line_breaks_and_the_keyboard_goes_under_the_last_part() -> None:
    line = "x" * 100
    text = "\n".join([line] * 90)  # about 9 000 characters
    messages = render_turn(
        _turn(Reply(text=text, buttons=[Button("Confirm", "/affirm")])), user_id=1, payloads=PayloadStore()
    )
    assert len(messages) == 3
    assert all(len(m.text) <= MAX_MESSAGE_CHARS for m in messages)
    assert "".join(m.text.replace("\n", "") for m in messages) == line * 90
    assert [m.keyboard is not None for m in messages] == [False, False, True]


def test_a_line_longer_than_the_limit_is_cut_hard() -> None:
    assert [len(p) for p in split_text("y" * 9000)] == [4096, 4096, 808]


def test_buttons_without_text_get_a_prompt_and_empty_replies_are_skipped() -> None:
    messages = render_turn(
        _turn(Reply(text=None, buttons=[Button("Yes", "/affirm")]), Reply(text=None)),
        user_id=1,
        payloads=PayloadStore(),
    )
    assert [m.text for m in messages] == [texts.CHOOSE]


def test_short_choices_sit_side_by_side_and_long_ones_one_per_row() -> None:
    store = PayloadStore()
    confirm_cancel = [Button("Confirm", "/affirm"), Button("Cancel", "/deny")]
    short = render_turn(_turn(Reply(text="?", buttons=confirm_cancel)), user_id=1, payloads=store)[0].keyboard
    assert short is not None and [len(row) for row in short.inline_keyboard] == [2]
    long_titles = [Button(f"Stadtwerke Musterstadt {i}", f"/inform{i}") for i in range(2)]
    tall = render_turn(_turn(Reply(text="?", buttons=long_titles)), user_id=1, payloads=store)[0].keyboard
    assert tall is not None and [len(row) for row in tall.inline_keyboard] == [1, 1]


def test_payload_keys_fit_callback_data_and_belong_to_their_user() -> None:
    store = PayloadStore(capacity=2)
    long_payload = "/inform" + '{"biller": "' + "z" * 80 + '"}'
    key = store.callback_data(7, long_payload)
    assert len(key.encode()) <= MAX_CALLBACK_BYTES
    assert store.resolve(7, key) == long_payload
    assert store.resolve(8, key) is None
    assert store.callback_data(7, "/affirm") == "/affirm"
    looks_like_a_key = store.callback_data(7, "k:abc")
    assert looks_like_a_key != "k:abc" and store.resolve(7, looks_like_a_key) == "k:abc"
    store.keep(7, "a")
    store.keep(7, "b")  # capacity 2: the first key is forgotten
    assert store.resolve(7, key) is None


def test_a_summary_payload_with_an_empty_nonce_is_no_tap() -> None:
    """attack21: only a tap's nonce can be claimed after a lost answer; a typed text with an empty
    nonce is no tap (it would claim the live offer like a typed "yes")."""
    assert summary_tap('/affirm{"draft_id": 7, "confirm_nonce": ""}') is None
    assert summary_tap('/affirm{"draft_id": 7, "confirm_nonce": "abc"}') == (7, "abc")
