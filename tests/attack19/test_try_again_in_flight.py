"""Attack 19: a Confirm whose answer never came is told "nothing has been charged for it" (Try
again) when payments still holds its summary open (bot.relay.tap_not_carried_out,
payments.confirming.Confirmations.offer_still_open). That read cannot see a Confirm still on its
way: Rasa gave up waiting (the bot's client timed out) while the action call was at a busy action
server, which then runs it and charges. The user was told nothing was charged.

Real stack (tests/helpers/stack.py: sandbox, action server, Rasa with the trained model, the real
bot long polling the fake Telegram); the action server is reached through holding_proxy.py, which
holds the Confirm's action call past the bot's timeout and then lets it through.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import texts
from bot.app import build_application
from bot.services import build_services
from db.engine import make_engine
from db.models import Payment, User
from rasa_client import RasaClient
from scripts.train import current_model_path
from testing.loop import BackgroundLoop
from tests.attack19.holding_proxy import HoldingProxy
from tests.bot.test_e2e_telegram import TURN_WAIT, bot_settings, button, with_keyboard
from tests.helpers.fake_telegram import fake_telegram_server, polling
from tests.helpers.stack import AssistantStack, start_assistant_stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

USER = 719001
CONFIRM_TIMEOUT = 8.0  # the bot's Rasa timeout for the Confirm (the summary turn gets TURN_WAIT)


@dataclass
class Seen:
    answer: dict[str, Any]  # what the bot said to the unanswered Confirm
    statuses_when_told: list[str]  # the user's non-draft payments then
    statuses_after: list[str]  # once the held action call went through
    statuses_after_retry: list[str]  # once "Try again" (if offered) was tapped and answered
    retry_said: list[str]


def _statuses(stack: AssistantStack) -> list[str]:
    engine = make_engine(stack.database_url)
    try:
        with Session(engine) as session:
            user_id = session.scalar(select(User.id).where(User.telegram_user_id == USER))
            rows = session.scalars(select(Payment.status).where(Payment.user_id == user_id))
            return sorted(s for s in rows if s != "draft")
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def seen(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seen]:
    model = current_model_path()
    if not model.exists():
        pytest.fail(f"no trained model for this checkout ({model}); run `make train`")
    loop = BackgroundLoop("attack19-holding-proxy")
    proxies: list[HoldingProxy] = []

    def via(name: str, url: str) -> str:
        if name != "action-server":
            return url
        parts = urlsplit(url)
        proxy = HoldingProxy(f"{parts.scheme}://{parts.netloc}")
        loop.run(proxy.start())
        proxies.append(proxy)
        return proxy.url + parts.path

    try:
        workdir: Path = tmp_path_factory.mktemp("attack19-holding")
        with start_assistant_stack(workdir, model, via=via) as stack:
            yield asyncio.run(_scenario(stack, proxies[0]))
    finally:
        for proxy in proxies:
            loop.run(proxy.stop())
        loop.close()


async def _scenario(stack: AssistantStack, proxy: HoldingProxy) -> Seen:
    async with fake_telegram_server() as fake:
        settings = bot_settings(stack, fake)
        services = build_services(settings)
        async with polling(build_application(settings, services)):
            await fake.send_text(USER, "pay my electricity bill")
            summary = await fake.wait_for(with_keyboard(fake, USER, "Confirm"), TURN_WAIT)
            before = len(fake.sent_messages(USER))
            # The Confirm: its action call waits at a busy action server past the bot's timeout.
            patient = services.assistant
            services.assistant = RasaClient(stack.rasa_url, settings.rasa_shared_secret, CONFIRM_TIMEOUT)
            proxy.hold = "action_confirm_payment"
            await fake.tap(USER, summary, button(summary, "Confirm"))
            [answer] = (await fake.wait_for_messages(USER, before + 1, TURN_WAIT))[before:]
            told = _statuses(stack)
            # The action server gets to it.
            proxy.release.set()
            deadline = time.monotonic() + TURN_WAIT
            while not any(a == "action_confirm_payment" for a, _ in proxy.answered):
                assert time.monotonic() < deadline, proxy.answered
                await asyncio.sleep(0.2)
            await asyncio.sleep(1.0)
            after = _statuses(stack)
            services.assistant = patient
            retry_said: list[str] = []
            rows = answer.get("reply_markup", {}).get("inline_keyboard", [])
            if any(b["text"] == texts.TRY_AGAIN for row in rows for b in row):
                count = len(fake.sent_messages(USER))
                await fake.tap(USER, answer, button(answer, texts.TRY_AGAIN))
                said = await fake.wait_for_messages(USER, count + 1, TURN_WAIT)
                await asyncio.sleep(2.0)
                retry_said = [m["text"] for m in fake.sent_messages(USER)[count:]]
                del said
            after_retry = _statuses(stack)
        await services.assistant.aclose()
    return Seen(answer, told, after, after_retry, retry_said)


def test_the_premise_the_unanswered_confirm_is_told_nothing_was_charged(seen: Seen) -> None:
    assert seen.answer["text"] == texts.NO_ANSWER_TAP_NOT_CARRIED_OUT, seen.answer
    assert seen.statuses_when_told == [], seen.statuses_when_told


def test_try_again_after_the_late_confirm_charges_once(seen: Seen) -> None:
    # Held: the nonce is used once, so the retry of a Confirm that went through late is refused.
    assert seen.statuses_after_retry.count("succeeded") <= 1, (seen.statuses_after_retry, seen.retry_said)
    assert len(seen.statuses_after_retry) <= 1, seen.statuses_after_retry


@pytest.mark.xfail(
    strict=True,
    reason="attack19: 'nothing has been charged' is read while the Confirm is still in flight; it charges",
)
def test_a_confirm_told_nothing_was_charged_does_not_charge_afterwards(seen: Seen) -> None:
    # The bot said: "the payment is still waiting for your answer, and nothing has been charged".
    assert seen.answer["text"] == texts.NO_ANSWER_TAP_NOT_CARRIED_OUT
    assert seen.statuses_after == [], (
        f"told nothing was charged, then the same Confirm charged: {seen.statuses_after}; "
        f"the retry was answered {seen.retry_said!r}"
    )


@pytest.mark.xfail(
    strict=True,
    reason="attack19: Try again after the late charge is answered 'already paid' and then a fallback",
)
def test_try_again_after_the_late_charge_is_answered_once(seen: Seen) -> None:
    # One answer saying where the payment stands; not followed by "Sorry, I'm still not sure what
    # you mean" as if the tap were an unreadable message. The refused Confirm (confirmation_used)
    # leaves pending_payment_id set (actions/common.py SUMMARY_KEPT_CODES), so the rule "affirm
    # with a payment pending confirms it" (rasa_project/data/rules.yml) does not match its slot
    # steps and action_default_fallback follows.
    assert seen.retry_said, seen.retry_said
    assert "already confirmed" in seen.retry_said[0], seen.retry_said
    assert len(seen.retry_said) == 1, seen.retry_said
