"""Attack 19: one user blocking and unblocking the bot over and over holds the bot's update slots,
and every other user's message waits behind them.

A block or unblock (my_chat_member) counts against its user's cap but is never refused
(bot.updates.never_refused), so each one takes a processor slot (PTB's semaphore, in
BaseUpdateProcessor.process_update) and then waits in it for its user's "other" lane
(OrderedUpdateProcessor.do_process_update), behind the previous one's database write
(bot.relay.set_reachable -> set_telegram_reachable). A few hundred of them take every slot
(concurrent_updates_for: 67 here) until worked off one write at a time: the starvation the
per-user cap was made to stop (attack12b, attack18). Only the latest state of each user matters.

Real PTB long-polling the fake Bot API, the real Rasa client against the stand-in Rasa channel; the
user directory writes reachability in 40 ms (a database commit under load).

Fixed (fix19b): blocks and unblocks are recorded outside any slot and lane (bot.updates.outside_slots,
bot.coalesce), one write at a time per user with the latest state (highest update_id) winning.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from bot.app import build_application
from bot.services import BotServices
from rasa_client import RasaClient
from testing.fake_telegram import FakeTelegram
from tests.bot.conftest import RecordingDirectory, bot_settings
from tests.helpers.fake_telegram import polling
from tests.rasa_client.standin import standin_rasa

TOGGLES = 240
WRITE_SECONDS = 0.04


@dataclass
class SlowDirectory(RecordingDirectory):
    """Records like RecordingDirectory; each reachability write takes WRITE_SECONDS."""

    def set_telegram_reachable(self, *, telegram_user_id: int, reachable: bool) -> bool:
        time.sleep(WRITE_SECONDS)
        return super().set_telegram_reachable(telegram_user_id=telegram_user_id, reachable=reachable)


async def test_a_block_unblock_flood_does_not_hold_another_users_message(fake: FakeTelegram) -> None:
    toggler, other = 719301, 719302
    directory = SlowDirectory()
    async with standin_rasa() as rasa:
        client = RasaClient(rasa.url, "s", 30.0, max_in_flight=2, max_waiting=1)
        services = BotServices(assistant=client, users=directory, session_factory=None)
        settings = bot_settings(fake, RASA_MAX_IN_FLIGHT=2, RASA_MAX_WAITING=1)
        async with polling(build_application(settings, services)):
            for n in range(TOGGLES):
                old, new = ("member", "kicked") if n % 2 == 0 else ("kicked", "member")
                await fake.member_status(toggler, old, new)
            asked = time.monotonic()
            await fake.send_text(other, "hello, I am someone else")
            [answer] = await fake.wait_for_messages(other, 1, within=60.0)
            waited = time.monotonic() - asked
            await fake.wait_for(lambda: not services.reachability.busy(), within=60.0)
        await client.aclose()
    assert answer["text"] == "echo: hello, I am someone else"
    assert directory.reachability[-1] == (toggler, True)  # the last state is the one kept
    # Coalesced: the states that came while a write ran were replaced, not each written in turn.
    assert len(directory.reachability) <= TOGGLES // 4, f"{len(directory.reachability)} writes"
    assert waited < 2.0, (
        f"another user's message waited {waited:.1f} s behind {TOGGLES} blocks/unblocks of one user "
        f"({WRITE_SECONDS * TOGGLES:.1f} s of writes)"
    )
