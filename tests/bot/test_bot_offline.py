"""The real bot (PTB long polling) against the fake Telegram server and a scripted stand-in assistant.

These check the bot's own behaviour: rendering, taps, order, duplicates, card numbers, failures.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from bot import texts
from bot.app import prepare
from bot.services import BotServices
from observability.logs import QUIET_LOGGERS
from privacy.cards import CARD_PLACEHOLDER
from rasa_client import AssistantTurn, Button, Reply
from tests.bot.conftest import RecordingDirectory, ScriptedAssistant, bot_settings, turn
from tests.helpers.fake_telegram import FakeTelegram, polling

ALICE = 424201
BOB = 424202
CARD_TEXT = "my card is 4242 4242 4242 4242"


def confirm_turn(text: str) -> AssistantTurn:
    """A summary with Confirm/Cancel buttons, like the payment summary."""
    buttons = [Button("Confirm", "/affirm"), Button("Cancel", "/deny")]
    return turn(Reply(text=f"Pay for {text}?", buttons=buttons))


async def test_a_text_message_goes_to_the_assistant_and_the_reply_comes_back(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant, directory: RecordingDirectory
) -> None:
    await fake.send_text(ALICE, "hello there")
    [reply] = await fake.wait_for_messages(ALICE, 1)
    assert reply["text"] == "echo: hello there"
    assert assistant.received == [(f"tg-{ALICE}", "hello there")]
    assert directory.calls == [{"telegram_user_id": ALICE, "name": "Test", "language_code": "en"}]


async def test_buttons_become_an_inline_keyboard_and_a_tap_sends_the_payload_once(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    assistant.answer = lambda text: confirm_turn(text) if text == "pay" else turn(Reply(text=f"did {text}"))
    await fake.send_text(ALICE, "pay")
    [summary] = await fake.wait_for_messages(ALICE, 1)
    keys = summary["reply_markup"]["inline_keyboard"]
    assert [[b["text"], b["callback_data"]] for b in keys[0]] == [["Confirm", "/affirm"], ["Cancel", "/deny"]]

    # A double tap: two callback queries for the same keyboard, queued back to back.
    await fake.tap(ALICE, summary, "/affirm")
    await fake.tap(ALICE, summary, "/affirm")
    await fake.wait_for(lambda: len(fake.calls_to("answerCallbackQuery")) == 2)
    await fake.send_text(ALICE, "after")  # handled after both taps: this user's updates are in order
    await fake.wait_for_messages(ALICE, 3)

    assert [text for _, text in assistant.received] == ["pay", "/affirm", "after"]
    assert [m["text"] for m in fake.sent_messages(ALICE)] == ["Pay for pay?", "did /affirm", "did after"]
    assert "reply_markup" not in fake.sent_messages(ALICE)[0]  # the keyboard was removed
    answers = [c.params.get("text") for c in fake.calls_to("answerCallbackQuery")]
    assert answers == [None, texts.ALREADY_DONE]


async def test_a_payload_longer_than_64_bytes_travels_under_a_short_key(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    long_payload = '/pay_bill{"biller": "' + "Stadtwerke Musterstadt Energie " * 3 + '"}'
    assistant.answer = lambda text: (
        turn(Reply(text="Which one?", buttons=[Button("Stadtwerke", long_payload)]))
        if text == "which"
        else turn(Reply(text="ok"))
    )
    await fake.send_text(ALICE, "which")
    [question] = await fake.wait_for_messages(ALICE, 1)
    data = question["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    assert len(data.encode()) <= 64 and data != long_payload

    await fake.tap(BOB, question, data)  # someone else's forged tap: the key is bound to Alice
    await fake.wait_for(lambda: fake.calls_to("answerCallbackQuery"))
    await fake.tap(ALICE, question, data)
    await fake.wait_for_messages(ALICE, 2)
    assert [text for _, text in assistant.received] == ["which", long_payload]
    assert fake.calls_to("answerCallbackQuery")[0].params["text"] == texts.BUTTON_EXPIRED


async def test_a_replayed_update_is_handled_once(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    update = await fake.send_text(ALICE, "once")
    await fake.wait_for_messages(ALICE, 1)
    await fake.push_update(update)  # Telegram delivers the same update_id again
    await fake.send_text(ALICE, "next")
    await fake.wait_for_messages(ALICE, 2)
    await asyncio.sleep(0.2)
    assert [text for _, text in assistant.received] == ["once", "next"]
    assert len(fake.sent_messages(ALICE)) == 2


async def test_one_users_messages_stay_in_order_while_other_users_go_ahead(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    assistant.delays["slow first"] = 1.0
    await fake.send_text(ALICE, "slow first")
    await fake.send_text(ALICE, "quick second")
    await fake.send_text(BOB, "bob meanwhile")
    [bob_reply] = await fake.wait_for_messages(BOB, 1)
    assert fake.sent_messages(ALICE) == []  # Bob was not held up behind Alice's slow turn
    await fake.wait_for_messages(ALICE, 2)
    assert [m["text"] for m in fake.sent_messages(ALICE)] == ["echo: slow first", "echo: quick second"]
    assert bob_reply["text"] == "echo: bob meanwhile"


async def test_a_card_number_is_deleted_and_never_reaches_the_assistant(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    update = await fake.send_text(ALICE, CARD_TEXT)
    [warning] = await fake.wait_for_messages(ALICE, 1)
    assert warning["text"] == texts.CARD_NUMBER_REFUSED
    [delete] = fake.calls_to("deleteMessage", ALICE)
    assert delete.params["message_id"] == update["message"]["message_id"]
    assert assistant.received == []


@contextmanager
def logging_restored() -> Iterator[None]:
    """Undo what configure_logging does to the root logger (pytest's handlers outlive one test)."""
    root, quiet = logging.getLogger(), [logging.getLogger(name) for name in QUIET_LOGGERS]
    handlers, level, quiet_levels = list(root.handlers), root.level, [q.level for q in quiet]
    filters = {handler: list(handler.filters) for handler in handlers}
    try:
        yield
    finally:
        for handler in list(root.handlers):
            if handler not in handlers:
                root.removeHandler(handler)
        for handler, kept in filters.items():
            handler.filters[:] = kept
        root.setLevel(level)
        for logger, quiet_level in zip(quiet, quiet_levels, strict=True):
            logger.setLevel(quiet_level)


async def test_card_numbers_in_ptb_debug_logs_are_redacted_by_the_logging_main_sets_up(
    fake: FakeTelegram,
    assistant: ScriptedAssistant,
    directory: RecordingDirectory,
    capsys: pytest.CaptureFixture[str],
) -> None:
    services = BotServices(assistant=assistant, users=directory, session_factory=None)
    with logging_restored():
        # main() is get_settings() + prepare(settings); DEBUG is where PTB logs whole updates.
        application = prepare(bot_settings(fake), services, log_level=logging.DEBUG)
        ptb = logging.getLogger("telegram.ext")
        assert ptb.isEnabledFor(logging.DEBUG), f"telegram.ext logs from {ptb.getEffectiveLevel()} up"
        async with polling(application):
            await fake.send_text(ALICE, CARD_TEXT)
            await fake.wait_for_messages(ALICE, 1)
    logged = capsys.readouterr().err.splitlines()

    ptb_debug = [line for line in logged if '"level": "debug"' in line and '"logger": "telegram.' in line]
    assert any("getUpdates" in line and CARD_PLACEHOLDER in line for line in ptb_debug), ptb_debug[-5:]
    assert not [line for line in logged if "4242 4242" in line or "4242424242424242" in line]


async def test_a_card_number_that_cannot_be_deleted_is_still_refused(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    # A photo whose caption holds the card, already gone when the bot tries to delete it.
    fake.refuse_deletes = True
    photo = [{"file_id": "p1", "file_unique_id": "q1", "width": 1, "height": 1}]
    await fake.send_message(ALICE, photo=photo, caption="4000 0000 0000 0341")
    [warning] = await fake.wait_for_messages(ALICE, 1)
    assert warning["text"] == texts.CARD_NUMBER_NOT_DELETED
    assert assistant.received == []


async def test_assistant_down_says_so_and_try_again_resends_the_message(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    assistant.down = True
    await fake.send_text(ALICE, "pay my rent")
    [down] = await fake.wait_for_messages(ALICE, 1)
    assert down["text"] == texts.BRAIN_DOWN
    [[retry]] = down["reply_markup"]["inline_keyboard"]
    assert retry["text"] == texts.TRY_AGAIN

    assistant.down = False
    await fake.tap(ALICE, down, retry["callback_data"])
    messages = await fake.wait_for_messages(ALICE, 2)
    assert messages[1]["text"] == "echo: pay my rent"
    assert assistant.received == [(f"tg-{ALICE}", "pay my rent")]


async def test_a_turn_without_replies_counts_as_the_assistant_being_down(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    silent = {"pay my rent": turn(), "pay my water": turn(Reply(text=None))}
    assistant.answer = lambda text: silent.get(text) or turn(Reply(text=f"echo: {text}"))
    await fake.send_text(ALICE, "pay my rent")
    await fake.send_text(ALICE, "pay my water")  # a reply with neither text nor buttons is silence too
    downs = await fake.wait_for_messages(ALICE, 2)
    assert [m["text"] for m in downs] == [texts.BRAIN_DOWN, texts.BRAIN_DOWN]
    [[retry]] = downs[0]["reply_markup"]["inline_keyboard"]
    assert retry["text"] == texts.TRY_AGAIN

    silent.clear()  # the assistant answers again
    await fake.tap(ALICE, downs[0], retry["callback_data"])
    messages = await fake.wait_for_messages(ALICE, 3)
    assert messages[2]["text"] == "echo: pay my rent"
    assert [text for _, text in assistant.received] == ["pay my rent", "pay my water", "pay my rent"]


async def test_commands_send_intent_payloads_and_start_links_the_user(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant, directory: RecordingDirectory
) -> None:
    await fake.send_text(ALICE, "/start")
    for command in ["/help", "/bills", "/history", "/cancel", "/affirm"]:
        await fake.send_text(ALICE, command)
    messages = await fake.wait_for_messages(ALICE, 6)
    assert messages[0]["text"] == texts.WELCOME and len(texts.WELCOME.splitlines()) == 2
    assert [text for _, text in assistant.received] == ["/check_bills", "/payment_history", "/stop"]
    assert messages[1]["text"].startswith("My commands:")  # /help: the bot's own, from the menu's table
    assert messages[5]["text"] == texts.UNKNOWN_COMMAND  # typed intent payloads are not passed on
    assert [c["telegram_user_id"] for c in directory.calls] == [ALICE]


async def test_too_long_and_non_text_messages_get_a_clear_answer(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    await fake.send_text(ALICE, "x" * 5000)
    sticker = {
        "file_id": "s1",
        "file_unique_id": "u1",
        "width": 1,
        "height": 1,
        "is_animated": False,
        "is_video": False,
        "type": "regular",
    }
    await fake.send_message(ALICE, sticker=sticker)
    messages = await fake.wait_for_messages(ALICE, 2)
    assert messages[0]["text"] == texts.TOO_LONG.format(limit=4096)
    assert messages[1]["text"] == texts.TEXT_ONLY
    assert assistant.received == []


async def test_a_failing_turn_is_logged_and_the_user_told(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant, caplog: object
) -> None:
    def explode(text: str) -> AssistantTurn:
        raise RuntimeError("boom")

    assistant.answer = explode
    await fake.send_text(ALICE, "anything")
    [apology] = await fake.wait_for_messages(ALICE, 1)
    assert apology["text"] == texts.SOMETHING_WENT_WRONG
    assert "boom" in caplog.text  # type: ignore[attr-defined]


def offer_turn(name: str, draft_id: int) -> AssistantTurn:
    """A payment summary whose Confirm / Cancel carry a draft id and nonce (issue 10 item 2)."""
    offer = json.dumps({"draft_id": draft_id, "confirm_nonce": f"n{draft_id}"}, separators=(",", ":"))
    buttons = [
        Button("Confirm", "/affirm" + offer),
        Button("Change", "/change"),
        Button("Cancel", "/deny" + offer),
    ]
    return turn(Reply(text=f"Pay {name}?", buttons=buttons))


async def test_a_new_summary_removes_the_keyboard_of_the_one_before(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    summaries = {"pay": offer_turn("A", 1), "make it 5": offer_turn("B", 2)}
    assistant.answer = lambda text: summaries.get(text) or turn(Reply(text=f"did {text}"))
    await fake.send_text(ALICE, "pay")
    [a] = await fake.wait_for_messages(ALICE, 1)
    await fake.send_text(ALICE, "make it 5")
    await fake.wait_for(lambda: fake.calls_to("editMessageReplyMarkup", ALICE))
    a_now, b = fake.sent_messages(ALICE)
    assert "reply_markup" not in a_now and b["reply_markup"]  # only the live summary keeps buttons
    assert [c.params["message_id"] for c in fake.calls_to("editMessageReplyMarkup", ALICE)] == [
        a["message_id"]
    ]
    # Other keyboards (a plain question) do not retire the summary.
    assistant.answer = lambda text: confirm_turn(text)
    await fake.send_text(ALICE, "which")
    await fake.wait_for_messages(ALICE, 3)
    assert fake.sent_messages(ALICE)[1].get("reply_markup")


async def test_a_tap_under_a_replaced_summary_is_answered_out_of_date_and_not_sent(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    summaries = {"pay": offer_turn("A", 1), "make it 5": offer_turn("B", 2)}
    assistant.answer = lambda text: summaries.get(text) or turn(Reply(text=f"did {text}"))
    await fake.send_text(ALICE, "pay")
    [a] = await fake.wait_for_messages(ALICE, 1)  # `a` keeps its keyboard: a tap already on its way
    await fake.send_text(ALICE, "make it 5")
    await fake.wait_for_messages(ALICE, 2)
    b = fake.sent_messages(ALICE)[1]
    a_confirm, b_confirm = (m["reply_markup"]["inline_keyboard"][0][0]["callback_data"] for m in (a, b))

    await fake.tap(ALICE, a, a_confirm)
    await fake.wait_for(lambda: fake.calls_to("answerCallbackQuery"))
    assert fake.calls_to("answerCallbackQuery")[0].params["text"] == texts.SUMMARY_OUT_OF_DATE
    await fake.tap(ALICE, b, b_confirm)
    await fake.wait_for_messages(ALICE, 3)

    assert [text for _, text in assistant.received] == ["pay", "make it 5", b_confirm]
    # The tap hands the assistant the text it was under: the summary the user confirmed.
    tap = assistant.metadata[-1].pop("tap")  # the tap's evidence for the consent receipt
    assert tap["callback_id"] and tap["at"]
    assert assistant.metadata[-1] == {"channel": "telegram", "shown_text": "Pay B?"}
    assert assistant.metadata[0] == {"channel": "telegram"}


async def test_try_again_after_an_outage_on_a_confirm_resends_that_tap_with_its_summary(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    """Retry after an outage on a Confirm (issue 10): the "Try again" re-sends the tap as it was —
    the summary's payload (draft id and nonce) with the summary it was under as `shown_text` — not
    the error message's text (payments refused that as another summary), and it is not answered
    "out of date" because the error message is not the live summary."""
    assistant.answer = lambda text: offer_turn("A", 7) if text == "pay" else turn(Reply(text=f"did {text}"))
    await fake.send_text(ALICE, "pay")
    [summary] = await fake.wait_for_messages(ALICE, 1)
    confirm = summary["reply_markup"]["inline_keyboard"][0][0]["callback_data"]

    assistant.down = True
    await fake.tap(ALICE, summary, confirm)
    [_, down] = await fake.wait_for_messages(ALICE, 2)
    assert down["text"] == texts.BRAIN_DOWN
    [[retry]] = down["reply_markup"]["inline_keyboard"]

    assistant.down = False
    await fake.tap(ALICE, down, retry["callback_data"])
    messages = await fake.wait_for_messages(ALICE, 3)
    assert messages[2]["text"] == f"did {confirm}"
    assert [text for _, text in assistant.received] == ["pay", confirm]  # the down stand-in records nothing
    sent = assistant.metadata[-1]
    assert {k: sent[k] for k in ("channel", "shown_text")} == {"channel": "telegram", "shown_text": "Pay A?"}
    assert set(sent) <= {"channel", "shown_text", "tap"}  # the retry's own tap evidence rides along
    popups = [c.params.get("text") for c in fake.calls_to("answerCallbackQuery")]
    assert texts.SUMMARY_OUT_OF_DATE not in popups


async def test_try_again_after_an_outage_on_typed_words_sends_no_shown_text(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    """A retried typed "yes" is the typed words again: the error message is not a summary shown."""
    assistant.down = True
    await fake.send_text(ALICE, "yes")
    [down] = await fake.wait_for_messages(ALICE, 1)
    [[retry]] = down["reply_markup"]["inline_keyboard"]
    assistant.down = False
    await fake.tap(ALICE, down, retry["callback_data"])
    await fake.wait_for_messages(ALICE, 2)
    assert "shown_text" not in assistant.metadata[-1]  # a typed message hands back no summary
    assert assistant.metadata[-1]["channel"] == "telegram"
