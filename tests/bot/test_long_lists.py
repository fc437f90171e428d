"""Issue 15, items 5 and 7: a user with 60 bills and 200 payments reads them page by page.

The real bot (PTB long polling the fake Telegram server); instead of Rasa, a stand-in that runs
the real actions (`action_check_bills`, `action_payment_history`) on the real payments service and
says what Rasa would say with the real domain. Every page fits in one Telegram message, Previous /
Next turn the page in place, all 60 bills and exactly the 200 payments (no drafts) are reachable,
and forged or foreign page buttons get a short answer and change nothing.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from rasa_sdk.executor import CollectingDispatcher
from ruamel.yaml import YAML

from actions.bills import ActionCheckBills, ActionPaymentHistory
from actions.services import reset_services, set_services
from bot import texts
from bot.rendering import MAX_MESSAGE_CHARS
from bot.services import BotServices
from payments.service import PaymentsService
from rasa_client import AssistantTurn, Reply
from tests.actions.conftest import DOMAIN_PATH, as_rasa_says, make_tracker
from tests.bot.conftest import RecordingDirectory, bot_running, bot_settings, turn
from tests.helpers.fake_telegram import FakeTelegram
from tests.helpers.long_lists import BILLS, SHOWN_PAYMENTS, BusyUser, make_busy_user

_telegram_ids = itertools.count(770_000_001)
ACTIONS = {"/check_bills": ActionCheckBills(), "/payment_history": ActionPaymentHistory()}


@dataclass
class ActionsAssistant:
    """Stands in for Rasa: runs the real action for a command's payload, answers as Rasa would."""

    domain: dict[str, Any]
    received: list[str] = field(default_factory=list)

    async def send(self, sender_id: str, text: str, metadata: dict[str, Any] | None = None) -> AssistantTurn:
        """Run the action and fill its responses from the domain."""
        self.received.append(text)
        dispatcher = CollectingDispatcher()
        await ACTIONS[text].run(dispatcher, make_tracker(sender_id, intent=text[1:]), self.domain)
        return turn(*(Reply(text=as_rasa_says(self.domain, m).get("text")) for m in dispatcher.messages))

    async def aclose(self) -> None:
        """Nothing to close."""


@pytest.fixture
def busy(payments_service: PaymentsService) -> Iterator[BusyUser]:
    """A Telegram user with 60 open bills and 200 payments, the actions on the test service."""
    set_services(payments_service)
    yield make_busy_user(payments_service.session_factory, next(_telegram_ids))
    reset_services()


def _bot(domain: dict[str, Any]) -> BotServices:
    return BotServices(assistant=ActionsAssistant(domain), users=RecordingDirectory(), session_factory=None)


def _buttons(message: dict[str, Any]) -> dict[str, str]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return {b["text"]: b["callback_data"] for row in rows for b in row}


def _items(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("• ")]


async def _read_all_pages(
    fake: FakeTelegram, user: int, command: str
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Send `command`, then tap Next until the last page; every page's text, and the message."""
    await fake.send_text(user, command)
    [message] = await fake.wait_for_messages(user, 1)
    seen = [dict(message)]
    while texts.PAGE_NEXT in _buttons(seen[-1]):
        shown = seen[-1]["text"]
        await fake.tap(user, message, _buttons(seen[-1])[texts.PAGE_NEXT])
        await fake.wait_for(lambda: fake.sent_messages(user)[0]["text"] != shown)  # noqa: B023
        seen.append(dict(fake.sent_messages(user)[0]))
    return seen, message


async def test_sixty_bills_are_paged_within_telegrams_limit(busy: BusyUser, fake: FakeTelegram) -> None:
    domain = dict(YAML(typ="safe").load(DOMAIN_PATH.read_text(encoding="utf-8")))
    async with bot_running(bot_settings(fake), _bot(domain)):
        pages, _ = await _read_all_pages(fake, busy.telegram_user_id, "/bills")

    assert len(fake.sent_messages(busy.telegram_user_id)) == 1  # one message, turned in place
    assert len(pages) == 6
    assert all(len(p["text"]) <= MAX_MESSAGE_CHARS for p in pages)
    assert all(p["text"].startswith("Here's what you owe:") for p in pages)
    assert [f"Page {n} of 6" in p["text"] for n, p in enumerate(pages, 1)] == [True] * 6
    listed = [line for p in pages for line in _items(p["text"])]
    assert len(listed) == BILLS and len(set(listed)) == BILLS
    assert all(any(name in line for line in listed) for name in busy.biller_names)
    assert set(_buttons(pages[0])) == {texts.PAGE_NEXT}
    assert set(_buttons(pages[2])) == {texts.PAGE_PREVIOUS, texts.PAGE_NEXT}
    assert set(_buttons(pages[-1])) == {texts.PAGE_PREVIOUS}


async def test_two_hundred_payments_are_paged_without_drafts_and_in_the_users_zone(
    busy: BusyUser, fake: FakeTelegram
) -> None:
    domain = dict(YAML(typ="safe").load(DOMAIN_PATH.read_text(encoding="utf-8")))
    async with bot_running(bot_settings(fake), _bot(domain)):
        pages, message = await _read_all_pages(fake, busy.telegram_user_id, "/history")
        # Previous goes back one page.
        last = pages[-1]["text"]
        await fake.tap(busy.telegram_user_id, message, _buttons(pages[-1])[texts.PAGE_PREVIOUS])
        await fake.wait_for(lambda: fake.sent_messages(busy.telegram_user_id)[0]["text"] != last)
        back = fake.sent_messages(busy.telegram_user_id)[0]["text"]

    assert len(pages) == 20 and back == pages[-2]["text"]
    assert all(len(p["text"]) <= MAX_MESSAGE_CHARS for p in pages)
    listed = [line for p in pages for line in _items(p["text"])]
    assert len(listed) == SHOWN_PAYMENTS  # the 15 drafts (open or cancelled unconfirmed) are left out
    assert "not confirmed" not in "".join(listed)
    scheduled = [line for line in listed if "scheduled, not paid yet" in line]
    assert len(scheduled) == len(busy.scheduled_ids) == 20
    assert all(line.startswith("• 🗓️ 1 Mar 2026 — ") for line in scheduled)
    # The newest payment went through at 23:30 UTC on 31 Jan: 12:30 on 1 Feb in Auckland.
    assert listed[0].startswith("• 1 Feb 2026, 12:30 +13:00 — ") and "(paid)" in listed[0]
    assert any("(cancelled)" in line for line in listed)  # consented, then refused: still a payment


async def test_forged_and_foreign_page_buttons_get_a_clear_answer_and_change_nothing(
    busy: BusyUser, fake: FakeTelegram
) -> None:
    domain = dict(YAML(typ="safe").load(DOMAIN_PATH.read_text(encoding="utf-8")))
    user, stranger = busy.telegram_user_id, next(_telegram_ids)
    async with bot_running(bot_settings(fake), _bot(domain)):
        await fake.send_text(user, "/bills")
        [message] = await fake.wait_for_messages(user, 1)
        next_data = _buttons(message)[texts.PAGE_NEXT]
        key = re.fullmatch(r"pg:(.+):2", next_data).group(1)  # type: ignore[union-attr]
        taps = [
            (user, f"pg:{key}:99"),  # a page that does not exist
            (user, f"pg:{key}:0"),
            (user, f"pg:{key}:-1"),
            (user, "pg:AAAAAAAAAAAA:2"),  # a key that was never given out
            (user, "pg:" + "x" * 60),
            (stranger, next_data),  # someone else's list
        ]
        sent = [await fake.tap(who, message, data) for who, data in taps]
        await fake.send_text(user, "/history")
        history = (await fake.wait_for_messages(user, 2))[1]
        sent.append(await fake.tap(user, history, next_data))  # the bills list's button on another message
        await fake.wait_for(lambda: len(fake.calls_to("answerCallbackQuery")) == len(sent))
        await asyncio.sleep(0.3)

    by_query = {
        c.params["callback_query_id"]: c.params.get("text") for c in fake.calls_to("answerCallbackQuery")
    }
    answers = [by_query[update["callback_query"]["id"]] for update in sent]
    assert answers == [
        texts.PAGE_MISSING.format(pages=6),
        texts.PAGE_MISSING.format(pages=6),
        texts.PAGE_INVALID,
        texts.PAGE_EXPIRED,
        texts.PAGE_INVALID,
        texts.PAGE_EXPIRED,
        texts.PAGE_EXPIRED,
    ]
    assert fake.calls_to("editMessageText") == []
    assert fake.sent_messages(user)[0]["text"] == message["text"]
    assert fake.sent_messages(stranger) == []
    assert texts.SOMETHING_WENT_WRONG not in [m["text"] for m in fake.sent_messages(user)]
