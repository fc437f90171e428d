"""Attack 20: a block of the bot loses to an OLDER message of the same user, so the user is
recorded as reachable although the latest thing they did was block the bot.

fix19b records blocks and unblocks "latest wins" by update_id (bot.coalesce.LatestWins via
bot.handlers.record_reachable), but a second writer of the same state bypasses that order:
bot.relay.known_user's lookup (group -2, bot.handlers.on_private_message) sets the user reachable
again whenever the directory says they are not. It runs when the message's turn comes up in the
user's lane, which can be after a block that came later (the block is handled at once, outside
slots and lanes, and bot.relay.set_reachable forgets the cached user). So: the user sends two
messages, blocks the bot while the first is still being answered; the second message's lookup
runs after the block and writes reachable=True over it. A Forbidden on the reply to that message
would not repair it either: bot.handlers.on_error records False under the message's (older)
update_id, which LatestWins skips as stale.

Real PTB long-polling the fake Bot API; the stand-in assistant (slow on the first message) and a
stand-in user directory that keeps the reachable flag as payments.users does.

Fixed: known_user's re-enable goes through the same LatestWins by the message's update_id, so a
block taken later is not overwritten.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.app import build_application
from bot.services import BotServices
from testing.fake_telegram import FakeTelegram
from tests.bot.conftest import RecordingDirectory, ScriptedAssistant, bot_settings
from tests.helpers.fake_telegram import polling

USER = 720001


@dataclass
class ReachableView:
    id: int
    is_test: bool
    telegram_reachable: bool


@dataclass
class StatefulDirectory(RecordingDirectory):
    """Records like RecordingDirectory and keeps each user's reachable flag (as payments.users)."""

    reachable: dict[int, bool] = field(default_factory=dict)

    def ensure_telegram_user(  # type: ignore[override]
        self, *, telegram_user_id: int, name: str, language_code: str | None
    ) -> ReachableView:
        super().ensure_telegram_user(
            telegram_user_id=telegram_user_id, name=name, language_code=language_code
        )
        flag = self.reachable.setdefault(telegram_user_id, True)
        return ReachableView(id=telegram_user_id % 1000, is_test=True, telegram_reachable=flag)

    def set_telegram_reachable(self, *, telegram_user_id: int, reachable: bool) -> bool:
        super().set_telegram_reachable(telegram_user_id=telegram_user_id, reachable=reachable)
        changed = self.reachable.get(telegram_user_id) != reachable
        self.reachable[telegram_user_id] = reachable
        return changed


async def test_a_block_is_not_undone_by_a_message_sent_before_it(
    fake: FakeTelegram, assistant: ScriptedAssistant
) -> None:
    directory = StatefulDirectory()
    assistant.delays["first"] = 1.0  # the first turn is still being answered when the user blocks
    services = BotServices(assistant=assistant, users=directory, session_factory=None)
    async with polling(build_application(bot_settings(fake, BOT_MAX_UPDATES_PER_USER=4), services)):
        await fake.send_text(USER, "first")
        await fake.wait_for(lambda: len(assistant.received) == 1, within=10.0)  # first is being answered
        await fake.send_text(USER, "second")  # sent before the block, answered after it
        await fake.member_status(USER, "member", "kicked")  # the latest thing the user did
        await fake.wait_for_messages(USER, 2, within=30.0)
        await fake.wait_for(lambda: not services.reachability.busy(), within=10.0)
    assert (USER, False) in directory.reachability  # the block was recorded
    assert directory.reachable[USER] is False, (
        f"blocked user recorded reachable; writes in order: {directory.reachability}"
    )
