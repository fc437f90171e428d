"""attack23: what the built spaCy pipeline (issue 11 rules) marks as amount and date spans.

A span is what the payment is drafted from: a biller's name marked as a date schedules the payment
on that day, an address marked as an amount charges it, a half-marked phrase moves the day.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from scripts.build_spacy_pipeline import AMOUNT, DATE
from tests.rasa.conftest import PROJECT, RASA, RASA_PYTHON

ENTITIES = """
import json, sys, spacy
nlp = spacy.load(sys.argv[1])
texts = json.load(sys.stdin)
keep = ("amount", "date")
print(json.dumps([[[e.label_, e.text] for e in nlp(t).ents if e.label_ in keep] for t in texts]))
"""

HOLES: list[tuple[str, list[tuple[str, str]], str]] = [
    (
        "pay the Wed Design invoice 40",
        [(AMOUNT, "40")],
        "'Wed Design' is no longer a date, but 'invoice 40' is read as an invoice number (the 'named "
        "number' rule), so 40 is lost: which reading is meant needs context the rules do not have",
    ),
]
# Holes attack23 found and fix23 closed (names, addresses, counts, full-width digits, years after a holiday).
FIXED: list[tuple[str, list[tuple[str, str]]]] = [
    ("pay Tomo 20", [(AMOUNT, "20")]),
    ("pay NYE Events Ltd 50", [(AMOUNT, "50")]),
    ("pay Boxing Day Club 15", [(AMOUNT, "15")]),
    ("pay the rent for 12 Grand Ave", []),
    ("pay 40 to 2 Grand Parade Dental", [(AMOUNT, "40")]),
    ("I have 2 grandkids, pay gas 30", [(AMOUNT, "30")]),
    ("pay gas on \uff11\uff13 dec", [(DATE, "\uff11\uff13 dec")]),
    ("pay gas christmas 2027", []),
    ("pay gas on new year's eve 2027", []),
    ("pay the gas \u00a31.5 grand", [(AMOUNT, "\u00a31.5 grand")]),
]
# A holiday with an offset ("the day before", "two days after", "a week on"): the holiday alone was
# marked, so the payment landed on the holiday itself (fix23: the phrase is now not a date at all).
OFFSET_HOLIDAYS = [
    ("pay gas the day before christmas", "day before"),
    ("pay gas the week before christmas", "week before"),
    ("pay gas two days after boxing day", "after"),
    ("pay gas a week on christmas eve", "week"),
    ("pay gas the friday before christmas", "friday before"),
]
# "a week on the 20th" / "2 weeks on friday": the day alone was marked, the week(s) on from it left out.
HALF_DATES = ["pay the gas a week on the 20th", "pay 20 a week on the 5th", "pay the gas 2 weeks on friday"]
HELD: list[tuple[str, list[tuple[str, str]]]] = [
    *FIXED,
    ("pay 40 to Grand Union Water", [(AMOUNT, "40")]),
    ("pay the grand hotel bill", []),
    ("Grand Theft Auto subscription, pay it", []),
    ("pay the grandstand tickets 50", [(AMOUNT, "50")]),
    ("my grandson Tom, pay his 20", [(AMOUNT, "20")]),
    ("pay the Christmas Tree Farm 30", [(AMOUNT, "30")]),
    ("pay Sat Nav Ltd 20", [(AMOUNT, "20")]),
    ("pay two fivers to the milkman", []),
    ("pay a trillion to vodafone", []),
    ("pay twenty quid a week on tuesday", [(AMOUNT, "twenty quid"), (DATE, "a week on tuesday")]),
    ("pay the entire amount tmoz", [(AMOUNT, "the entire amount"), (DATE, "tmoz")]),
]


@pytest.fixture(scope="module")
def marked() -> dict[str, list[tuple[str, str]]]:
    """What the saved pipeline marks in every text of this module (one Rasa-env process)."""
    pipeline = Path(PROJECT) / "spacy_pipeline"
    if not RASA.exists() or not pipeline.exists():
        pytest.skip("the Rasa environment or the spaCy pipeline is missing (run `make train`)")
    texts = sorted(
        {t for t, _, _ in HOLES} | set(HALF_DATES) | {t for t, _ in HELD} | {t for t, _ in OFFSET_HOLIDAYS}
    )
    result = subprocess.run(
        [str(RASA_PYTHON), "-c", ENTITIES, str(pipeline)],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    found = json.loads(result.stdout.strip().splitlines()[-1])
    return {text: [(label, span) for label, span in spans] for text, spans in zip(texts, found, strict=True)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(text, expected, id=text, marks=pytest.mark.xfail(strict=True, reason=reason))
        for text, expected, reason in HOLES
    ],
)
def test_names_addresses_and_counts_are_not_money_or_dates(marked, text: str, expected) -> None:
    assert marked[text] == expected


@pytest.mark.parametrize("text", HALF_DATES)
def test_weeks_on_from_a_day_are_marked_whole_or_not_at_all(marked, text: str) -> None:
    dates = [span for label, span in marked[text] if label == DATE]
    assert all("week" in span for span in dates), dates


@pytest.mark.parametrize(("text", "expected"), HELD, ids=[t for t, _ in HELD])
def test_slang_lookalikes_that_held(marked, text: str, expected) -> None:
    assert marked[text] == expected


@pytest.mark.parametrize(("text", "offset"), OFFSET_HOLIDAYS, ids=[t for t, _ in OFFSET_HOLIDAYS])
def test_a_holiday_with_an_offset_is_marked_whole_or_not_at_all(marked, text: str, offset: str) -> None:
    dates = [span for label, span in marked[text] if label == DATE]
    assert all(offset in span for span in dates), dates
