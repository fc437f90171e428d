"""Attack 19: a flood of messages from a user the bot does not know yet (first contact, or any user
after a restart) looks the user up in the database once per refused message, and those lookups take
the event loop's worker threads other users' database work needs.

Every update past its user's cap still runs the group -2 handler (bot.handlers.on_private_message:
bot.relay.known_user), outside any slot (bot.updates.OrderedUpdateProcessor._refuse). Until the
first lookup of that user is done (`services.known_users` fills only then) each refused message
starts its own ensure_telegram_user in asyncio.to_thread: hundreds at once, queued on the default
executor (a handful of threads), ahead of another user's own lookup. Nothing single-flights the
lookup per user, and a refused update (which is answered "slow down" and nothing else) need not make
it at all.

Real PTB long-polling the fake Bot API, the real Rasa client against the stand-in Rasa channel; the
user directory answers a lookup in 100 ms (a database under load).

Fixed (fix19b): a refused update looks nobody up, and bot.relay.known_user runs one lookup per
user at a time, shared by everyone waiting for it (bot.coalesce).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bot.app import build_application
from bot.services import BotServices
from rasa_client import RasaClient
from testing.fake_telegram import FakeTelegram
from tests.bot.conftest import RecordingDirectory, UserView, bot_settings
from tests.helpers.fake_telegram import polling
from tests.rasa_client.standin import standin_rasa

FLOOD = 150
LOOKUP_SECONDS = 0.1


@dataclass
class SlowDirectory(RecordingDirectory):
    """Records like RecordingDirectory; each lookup takes LOOKUP_SECONDS."""

    def ensure_telegram_user(self, *, telegram_user_id: int, name: str, language_code: str | None) -> Any:
        time.sleep(LOOKUP_SECONDS)
        view: UserView = super().ensure_telegram_user(
            telegram_user_id=telegram_user_id, name=name, language_code=language_code
        )
        return view


async def test_a_first_contact_flood_looks_the_user_up_once(fake: FakeTelegram) -> None:
    flooder, other = 719401, 719402
    directory = SlowDirectory()
    async with standin_rasa() as rasa:
        client = RasaClient(rasa.url, "s", 30.0, max_in_flight=4, max_waiting=10)
        services = BotServices(assistant=client, users=directory, session_factory=None)
        async with polling(build_application(bot_settings(fake, BOT_MAX_UPDATES_PER_USER=4), services)):
            for n in range(FLOOD):
                await fake.send_text(flooder, f"hi {n}")
            asked = time.monotonic()
            await fake.send_text(other, "hello, I am someone else")
            [answer] = await fake.wait_for_messages(other, 1, within=60.0)
            waited = time.monotonic() - asked
        await client.aclose()
    lookups = [c for c in directory.calls if c["telegram_user_id"] == flooder]
    assert answer["text"] == "echo: hello, I am someone else"
    assert len(lookups) <= 2 and waited < 2.0, (
        f"{len(lookups)} lookups of the flooding user for {FLOOD} messages; another user's message "
        f"waited {waited:.1f} s"
    )
