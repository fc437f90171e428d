"""Card numbers are deleted as they arrive, batched per chat with one delete call in flight
(bot.cardnumbers, attack19): the real bot long-polling the fake Bot API, the stand-in assistant.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from bot import texts
from testing.fake_telegram import FakeTelegram
from tests.bot.conftest import ScriptedAssistant

ALICE = 424501
CARD = "my card is 4242 4242 4242 4242"


async def test_card_numbers_sent_together_are_deleted_in_batches_one_call_at_a_time(
    running_bot: object, fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    fake.delays = {"deleteMessage": 0.3, "deleteMessages": 0.3}  # the rest arrive while one is deleted
    sent = await asyncio.gather(*(fake.send_text(ALICE, CARD) for _ in range(30)))
    await fake.wait_for(lambda: len(fake.deleted_ids(ALICE)) == len(sent))
    assert fake.deleted_ids(ALICE) == {u["message"]["message_id"] for u in sent}
    calls = fake.delete_calls(ALICE)
    assert len(calls) <= 3, [c.method for c in calls]  # one, then the rest together
    assert fake.most_in_flight[""] == 1  # never two delete calls to one chat at once
    assert assistant.received == []


async def test_a_refused_batch_is_deleted_one_by_one_and_each_answered_truly(
    running_bot: object,
    fake: FakeTelegram,
    assistant: ScriptedAssistant,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="bot.cardnumbers")
    fake.delays = {"deleteMessage": 0.3}  # the first goes alone; the other three wait and go together
    first = await fake.send_text(ALICE, CARD)
    await fake.wait_for(lambda: fake.polls >= 2 and not fake.queued())
    later = [await fake.send_text(ALICE, CARD) for _ in range(3)]
    kept = later[1]["message"]["message_id"]
    fake.undeletable.add((ALICE, kept))  # e.g. too old: the batch naming it fails as a whole
    answers = await fake.wait_for_messages(ALICE, 4)

    sent = [first, *later]
    assert fake.deleted_ids(ALICE) == {u["message"]["message_id"] for u in sent} - {kept}
    assert [c.method for c in fake.delete_calls(ALICE)][:2] == ["deleteMessage", "deleteMessages"]
    assert sorted(m["text"] for m in answers) == sorted(
        [texts.CARD_NUMBER_REFUSED] * 3 + [texts.CARD_NUMBER_NOT_DELETED]
    )
    logged = [r.getMessage() for r in caplog.records if r.name == "bot.cardnumbers"]
    assert sum("could NOT delete" in line for line in logged) == 1, logged
    assert assistant.received == []


async def test_a_card_number_telegram_will_not_delete_is_not_logged_as_deleted(
    running_bot: object, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot.cardnumbers")
    fake.refuse_deletes = True
    await fake.send_text(ALICE, CARD)
    [answer] = await fake.wait_for_messages(ALICE, 1)
    assert answer["text"] == texts.CARD_NUMBER_NOT_DELETED
    logged = [r.getMessage() for r in caplog.records if r.name == "bot.cardnumbers"]
    assert logged and all(line.startswith("could NOT delete") for line in logged), logged
