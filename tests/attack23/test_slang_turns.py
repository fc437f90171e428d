"""attack23: issue 11's chat dates and money slang through a real turn — the trained Rasa model, the
action server and payments — read from the draft the summary offers (payments.pay_on, amount_minor).

Each test asserts the safe outcome: either no draft (a question back) or a draft with the day or
amount the user wrote; never a draft on another day or for another amount.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import create_engine, text

pytestmark = pytest.mark.e2e


def _drafts_after(database_url: str, last_id: int) -> list[dict]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT id, amount_minor, currency, pay_on FROM payments WHERE id > :last ORDER BY id"),
                {"last": last_id},
            )
            return [dict(row._mapping) for row in rows]
    finally:
        engine.dispose()


def _last_id(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT coalesce(max(id), 0) FROM payments")).scalar_one())
    finally:
        engine.dispose()


def _turn(assistant_stack, console_api, session: str, message: str) -> tuple[list[dict], str]:
    before = _last_id(assistant_stack.database_url)
    answer = console_api.chat(session, message)
    said = " | ".join(r["text"] or "" for r in answer["replies"])
    return _drafts_after(assistant_stack.database_url, before), said


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _next_day_of_month(day: int, today: date) -> date:
    if today.day <= day:
        return today.replace(day=day)
    first = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    return first.replace(day=day)


def test_a_week_on_the_20th_is_not_drafted_on_the_20th(assistant_stack, console_api) -> None:
    wrong = _next_day_of_month(20, date.today())
    drafts, said = _turn(
        assistant_stack, console_api, "a23_week_on", "pay my electricity bill a week on the 20th"
    )
    assert all(_as_date(d["pay_on"]) != wrong for d in drafts), (drafts, said)


def test_friday_the_13th_is_never_drafted_on_another_weekday(assistant_stack, console_api) -> None:
    thirteenth = _next_day_of_month(13, date.today())
    if thirteenth.weekday() == 4:
        pytest.skip("the coming 13th is a Friday: nothing to contradict")
    drafts, said = _turn(
        assistant_stack, console_api, "a23_fri13", "pay my electricity bill on friday the 13th"
    )
    assert all(_as_date(d["pay_on"]).weekday() == 4 for d in drafts), (drafts, said)


def test_pence_in_words_on_a_euro_bill_drafts_nothing_in_euros(assistant_stack, console_api) -> None:
    drafts, said = _turn(
        assistant_stack, console_api, "a23_pence", "pay ninety nine pence on my electricity bill"
    )
    assert not [d for d in drafts if d["currency"] == "EUR" and d["amount_minor"] == 99], (drafts, said)


def test_three_fivers_is_not_drafted_as_three(assistant_stack, console_api) -> None:
    """Held: the span is "3", but "fivers" left outside it is money not read (AmountUnreadError)."""
    drafts, said = _turn(assistant_stack, console_api, "a23_fivers", "pay 3 fivers on my electricity bill")
    assert not [d for d in drafts if d["amount_minor"] in (300, 3)], (drafts, said)


def test_the_day_before_christmas_is_not_drafted_on_christmas_day(assistant_stack, console_api) -> None:
    today = date.today()
    christmas = date(today.year if today <= date(today.year, 12, 25) else today.year + 1, 12, 25)
    drafts, said = _turn(
        assistant_stack, console_api, "a23_xmas", "pay my electricity bill the day before christmas"
    )
    assert all(_as_date(d["pay_on"]) != christmas for d in drafts), (drafts, said)


def test_a_date_in_full_width_digits_is_not_drafted_as_an_amount(assistant_stack, console_api) -> None:
    drafts, said = _turn(
        assistant_stack, console_api, "a23_fullwidth", "pay my electricity bill on \uff11\uff13 dec"
    )
    assert not [d for d in drafts if d["amount_minor"] == 1300], (drafts, said)
