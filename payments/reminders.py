"""Bill reminders (issue 13, item 4): the worker tells users of bills due soon, once per window.

A bill is reminded when it is open, due within `ServiceConfig.reminder_days` of the user's today
(their time zone), still has something outstanding, no live payment holds it (approved, scheduled,
in flight, awaiting a second approval) and its user has reminders on and is reachable on Telegram
(not blocking the bot). Only during the user's waking hours (`reminder_start_hour` to
`reminder_end_hour` of their own clock); outside them the bill simply waits for a later round.

Exactly once per bill and due date (its window): the `bill_reminders` row, unique on the pair, is
inserted in the same transaction as the outbox row, so of two workers racing only one commits and
the other's insert fails on the key. A bill whose due date moves is a new window.

The user's switch (`users.reminders_enabled`, default on) is changed in chat and audited as a
setting change by the user (`user.reminders_changed`). A "Pay now" under a bill's message (a
reminder, or a bill a standing mandate could not pay) asks `payable_bill` first: a bill paid (or
being paid) since is refused with `BillSettledError` rather than drafted again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from db.models import Bill, Biller, BillReminder, User
from payments.audit import append_audit
from payments.config import ServiceConfig
from payments.errors import BillSettledError, PayNowBillUnknownError
from payments.outbox import queue_bill_notification, still_to_pay
from payments.statuses import BillStatus, NotificationKind
from payments.unit_of_work import OPEN_BILL_STATUSES, UnitOfWork, load_user

SETTLED_BILL_STATUSES = (BillStatus.PAID.value, BillStatus.VOID.value)


@dataclass(frozen=True)
class ReminderRound:
    """What one worker round did: reminders queued, and candidates left for a later round because
    it is outside the user's hours (`waiting`) or another worker reminded them first (`lost_race`)."""

    queued: int = 0
    waiting: int = 0
    lost_race: int = 0

    def __bool__(self) -> bool:
        return bool(self.queued or self.lost_race)


@dataclass(frozen=True)
class ReminderSetting:
    """A user's reminder switch after a change: on or off, and whether this call changed it."""

    enabled: bool
    changed: bool


def within_hours(moment: datetime, *, timezone: str, start_hour: int, end_hour: int) -> bool:
    """True when `moment` (UTC) falls in [start_hour, end_hour) of the clock in `timezone`; a start
    at or after the end wraps over midnight (22 to 6)."""
    hour = moment.astimezone(ZoneInfo(timezone)).hour
    if start_hour < end_hour:
        return start_hour <= hour < end_hour
    return hour >= start_hour or hour < end_hour


def in_window(due_date: date, *, today: date, days: int) -> bool:
    """True when a bill due on `due_date` is due within `days` days of `today` (not already past)."""
    return today <= due_date <= today + timedelta(days=days)


class Reminders:
    """The reminder step of the worker, the user's switch and the "Pay now" check."""

    def __init__(self, uow: UnitOfWork, config: ServiceConfig) -> None:
        self._uow = uow
        self._config = config

    def remind_due_bills(self, *, page: int = 500) -> ReminderRound:
        """Queue one BILL_REMINDER per bill due soon (see the module docstring); safe to run from
        several workers at once. Candidates are read `page` at a time until none is left, so bills
        waiting for their users' morning never crowd out the others. Returns counts (`ReminderRound`)."""
        now = self._uow.now()
        queued = waiting = lost = 0
        after_id = 0
        while batch := self._candidates(now, after_id=after_id, limit=page):
            after_id = batch[-1][0]
            for bill_id, due_date, timezone in batch:
                if due_date is None:  # outside the window in the user's zone (kept for paging)
                    continue
                if not within_hours(
                    now,
                    timezone=timezone,
                    start_hour=self._config.reminder_start_hour,
                    end_hour=self._config.reminder_end_hour,
                ):
                    waiting += 1
                    continue
                try:
                    queued += self._remind(bill_id, due_date, now)
                except IntegrityError:  # another worker committed this bill's reminder first
                    lost += 1
        return ReminderRound(queued=queued, waiting=waiting, lost_race=lost)

    def _candidates(self, now: datetime, *, after_id: int, limit: int) -> list[tuple[int, date | None, str]]:
        """The next `limit` open bills (by id, after `after_id`) of users with reminders on and a
        Telegram chat, not yet reminded for their due date, due around now: (bill id, due date, time
        zone), the due date None when the bill is not in the window of its user's today."""
        utc_today = now.date()
        reminded = exists().where(BillReminder.bill_id == Bill.id, BillReminder.due_date == Bill.due_date)
        with self._uow.tx() as session:
            rows = session.execute(
                select(Bill.id, Bill.due_date, User.timezone)
                .join(User, Bill.user_id == User.id)
                .where(
                    Bill.id > after_id,
                    User.reminders_enabled.is_(True),
                    User.telegram_user_id.is_not(None),
                    # Blocked the bot: nothing queued meanwhile (a later round reminds, if still due).
                    User.telegram_unreachable_since.is_(None),
                    User.forgotten_at.is_(None),
                    Bill.status.in_(OPEN_BILL_STATUSES),
                    # A day either side of UTC's today covers every zone; refined per user below.
                    Bill.due_date >= utc_today - timedelta(days=1),
                    Bill.due_date <= utc_today + timedelta(days=self._config.reminder_days + 1),
                    ~reminded,
                )
                .order_by(Bill.id)
                .limit(max(1, limit))
            ).all()
        days = self._config.reminder_days
        return [
            (
                int(bill_id),
                due if in_window(due, today=now.astimezone(ZoneInfo(str(zone))).date(), days=days) else None,
                str(zone),
            )
            for bill_id, due, zone in rows
        ]

    def _remind(self, bill_id: int, due_date: date, now: datetime) -> int:
        """In one transaction: check the bill again, claim its window, queue the reminder; 1 or 0.

        The claim is inserted (and flushed) before the notification: a second worker's insert of the
        same (bill, due date) waits for the first to commit and then fails on the unique key.
        """
        with self._uow.tx() as session:
            bill = session.get(Bill, bill_id)
            if bill is None or bill.due_date != due_date or not still_to_pay(session, bill):
                return 0
            claim = BillReminder(bill_id=bill.id, due_date=due_date, user_id=bill.user_id, reminded_at=now)
            session.add(claim)
            session.flush()
            claim.notification_id = queue_bill_notification(
                session, bill, NotificationKind.BILL_REMINDER, now
            ).id
            return 1

    def set_reminders(self, *, user_id: int, enabled: bool, changed_by: str = "user") -> ReminderSetting:
        """Switch the user's reminders on or off; audited (`user.reminders_changed`, by whom, before
        and after) when it changes. Returns the setting now."""
        with self._uow.tx() as session:
            user = load_user(session, user_id)
            before = bool(user.reminders_enabled)
            if before == enabled:
                return ReminderSetting(enabled=enabled, changed=False)
            user.reminders_enabled = enabled
            append_audit(
                session,
                event="user.reminders_changed",
                user_id=user_id,
                data={"by": changed_by[:200], "before": before, "after": enabled},
            )
            return ReminderSetting(enabled=enabled, changed=True)

    def reminders_enabled(self, *, user_id: int) -> bool:
        """Whether the user's reminders are on."""
        with self._uow.tx() as session:
            return bool(load_user(session, user_id).reminders_enabled)

    def payable_bill(self, session: Session, *, user_id: int, bill_id: int) -> None:
        """Check that the bill a "Pay now" names (under a reminder or a bill that needs the user) is
        still to pay. BillSettledError (params: biller) when it is paid, void or held by a live
        payment; PayNowBillUnknownError for a missing or another user's bill (told apart by nothing)."""
        row = session.execute(
            select(Bill, Biller.name).join(Biller, Bill.biller_id == Biller.id).where(Bill.id == bill_id)
        ).first()
        if row is None or row[0].user_id != user_id:  # another user's bill looks like a missing one
            raise PayNowBillUnknownError(bill_id=bill_id)
        bill, biller = row
        if bill.status in SETTLED_BILL_STATUSES or not still_to_pay(session, bill):
            raise BillSettledError(biller=str(biller))
