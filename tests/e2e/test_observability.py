"""On call, end to end: a Telegram payment through the real stack, then its logs and its metrics.

The bot runs in this process (real python-telegram-bot against the fake Bot API) with paychat's JSON
logging; Rasa, the action server and the sandbox are the session's processes, whose logs are files.
The user has a name, types an e-mail address and a card number, and pays a bill. Afterwards no log
line of any process holds the name, the address or the number; the bot's, the channel's and the
action server's lines of the turn share one conversation id, the payments core's lines carry the
payment id; and the action server's and the bot's /metrics show the turns and the payment.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app import build_application
from observability import metrics
from observability.context import conversation_ref
from observability.logs import JsonFormatter
from scripts import procs
from tests.bot.test_e2e_telegram import TURN_WAIT, bot_settings, button, with_keyboard
from tests.helpers.fake_telegram import fake_telegram_server, polling
from tests.helpers.stack import AssistantStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]

USER = 555901
FIRST_NAME = "Zelinda Quorvath-Ambersley"  # found nowhere else in the project
EMAIL = "zelinda.quorvath@example.org"
CARD = "4242 4242 4242 4242"
SECRETS = ("Zelinda", "Quorvath", "Ambersley", EMAIL, CARD, CARD.replace(" ", ""))


@pytest.fixture
def bot_log() -> Iterator[io.StringIO]:
    """Everything this process logs at INFO during the test, as the bot's JSON lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("telegram-bot"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def json_lines(text: str) -> list[dict[str, Any]]:
    """The lines of `text` that are JSON objects (Rasa's own lines are not)."""
    found = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except ValueError:
                continue
    return found


def sample(text: str, name: str, labels: dict[str, str]) -> float:
    """The value of `name{labels}` in Prometheus exposition text (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for found in family.samples:
            if found.name == name and all(found.labels.get(k) == v for k, v in labels.items()):
                return float(found.value)
    return 0.0


async def test_a_payment_leaves_no_personal_data_in_any_log_and_shows_in_the_metrics(
    assistant_stack: AssistantStack, bot_log: io.StringIO
) -> None:
    action_metrics = f"{assistant_stack.action_url.rsplit('/webhook', 1)[0]}/metrics"
    paid = {"status": "succeeded"}
    http = httpx.AsyncClient(timeout=30)
    paid_before = sample((await http.get(action_metrics)).text, "paychat_payment_outcomes_total", paid)
    async with fake_telegram_server() as fake:
        async with polling(build_application(bot_settings(assistant_stack, fake))):
            await fake.send_text(USER, "/start", first_name=FIRST_NAME)
            await fake.wait_for_messages(USER, 1, TURN_WAIT)
            await fake.send_text(USER, f"my email is {EMAIL}", first_name=FIRST_NAME)
            await fake.wait_for_messages(USER, 2, TURN_WAIT)
            await fake.send_text(USER, f"my card is {CARD}", first_name=FIRST_NAME)
            await fake.wait_for_messages(USER, 3, TURN_WAIT)
            await fake.send_text(USER, "pay my electricity bill", first_name=FIRST_NAME)
            summary = await fake.wait_for(with_keyboard(fake, USER, "Confirm"), TURN_WAIT)
            await fake.tap(USER, summary, button(summary, "Confirm"))
            receipt = lambda: any("84" in m["text"] for m in fake.sent_messages(USER)[4:])  # noqa: E731
            await fake.wait_for(receipt, TURN_WAIT)
        bot_metrics = metrics.serve("127.0.0.1", procs.free_port())
        assert bot_metrics is not None
        server, _ = bot_metrics
        try:
            scraped_bot = (await http.get(f"http://127.0.0.1:{server.server_port}/metrics")).text
        finally:
            server.shutdown()
    scraped_actions = (await http.get(action_metrics)).text
    await http.aclose()

    logs = {p.name: p.read_text(errors="replace") for p in assistant_stack.supervisor.log_dir.glob("*.log")}
    logs["bot (this process)"] = bot_log.getvalue()
    leaks = {name: [s for s in SECRETS if s in text] for name, text in logs.items()}
    assert not any(leaks.values()), leaks

    ref = conversation_ref(f"tg-{USER}")
    ours = {
        name: [ln for ln in json_lines(text) if ln.get("conversation_id") == ref]
        for name, text in logs.items()
    }
    counts = {name: len(lines) for name, lines in ours.items()}
    assert ours["bot (this process)"] and ours["rasa.log"] and ours["action-server.log"], counts
    settled = [line for line in ours["action-server.log"] if line["msg"] == "payment processing -> succeeded"]
    assert len(settled) == 1 and isinstance(settled[0]["payment_id"], int)
    assert any(line.get("payment_id") == settled[0]["payment_id"] for line in ours["bot (this process)"])

    turns = {"channel": "telegram", "outcome": "answered"}
    assert sample(scraped_bot, "paychat_turn_seconds_count", turns) >= 3  # the card number never was a turn
    assert sample(scraped_actions, "paychat_payment_outcomes_total", paid) == paid_before + 1
    confirm = {"action": "action_confirm_payment", "outcome": "ok"}
    assert sample(scraped_actions, "paychat_action_seconds_count", confirm) >= 1
