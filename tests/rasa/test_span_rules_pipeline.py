"""The built spaCy pipeline marks what its rules promise, and no amount or date where there is none.

Runs the saved pipeline (rasa_project/spacy_pipeline) in the Rasa environment on every rule
example (scripts/build_spacy_pipeline.py) and on sentences with and without money and dates.
"""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from scripts.build_spacy_pipeline import AMOUNT, DATE, all_rules
from tests.rasa.conftest import PROJECT, RASA_PYTHON

ENTITIES = """
import json, sys, spacy
nlp = spacy.load(sys.argv[1])
texts = json.load(sys.stdin)
keep = ("amount", "date")
print(json.dumps([[[e.label_, e.text] for e in nlp(t).ents if e.label_ in keep] for t in texts]))
"""

SENTENCES: list[tuple[str, list[tuple[str, str]]]] = [
    ("pay 20 on the gas bill", [(AMOUNT, "20")]),
    ("pay 30 on the water bill next tuesday", [(AMOUNT, "30"), (DATE, "next tuesday")]),
    ("pay 30€.", [(AMOUNT, "30€")]),
    ("Vodafone wants 45 from me, can you pay that", [(AMOUNT, "45")]),
    ("pay off my card, 1.5k", [(AMOUNT, "1.5k")]),
    ("96.50 USD for the power company, pay it", [(AMOUNT, "96.50 USD")]),
    ("pay 950€ rent", [(AMOUNT, "950€")]),
    ("pay -20 to the phone bill", [(AMOUNT, "-20")]),
    # The sign, the currency and the sub-unit stay in the span (attack10 item 1).
    ("pay vodafone \u201320", [(AMOUNT, "\u201320")]),
    ("pay vodafone -€5", [(AMOUNT, "-€5")]),
    ("pay ₽20 to vodafone", [(AMOUNT, "₽20")]),
    ("pay vodafone 20 Fr.", [(AMOUNT, "20 Fr.")]),
    ("pay vodafone 20 euro cents", [(AMOUNT, "20 euro cents")]),
    ("pay vodafone 1e3", [(AMOUNT, "1e3")]),
    ("pay vodafone 20 swiss francs", [(AMOUNT, "20 swiss francs")]),
    ("pay 2026-12-03 for vodafone", [(DATE, "2026-12-03")]),
    ("try again with the top 5 payments", []),
    ("pay rent at the end of the month", [(DATE, "the end of the month")]),
    ("on the 5th pay the internet", [(DATE, "the 5th")]),
    ("book 1100€ for rent on 01.06.", [(AMOUNT, "1100€"), (DATE, "on 01.06.")]),
    ("can you pay it in two weeks", [(DATE, "in two weeks")]),
    ("customer number 55102, how much do i owe", []),
    ("i have 2 bills open right?", []),
    ("show my last 5 payments", []),
    ("my card ending in 4242 was charged twice", []),
    # A year after "in" is a period in a history question (dev4 convention), never money.
    ("what did i pay in 2025", [(DATE, "in 2025")]),
    ("i sat on the sofa and may have lost my card", []),
    ("can i get a refund for a purchase", []),
    ("why was i charged a fee on my statement", []),
    ("the first payment failed", []),
    # Issue 11's ways of writing: dictation, second-language English, terse fragments.
    ("um pay the t mobile bill forty two fifty", [(AMOUNT, "forty two fifty")]),
    (
        "pay pg and e a hundred and twenty on the twenty eighth",
        [(AMOUNT, "a hundred and twenty"), (DATE, "the twenty eighth")],
    ),
    (
        "pay the water bill twelve hundred the day after tomorrow",
        [(AMOUNT, "twelve hundred"), (DATE, "the day after tomorrow")],
    ),
    ("send at and t ninety two dollars and forty cents", [(AMOUNT, "ninety two dollars and forty cents")]),
    ("uh pay the gym six forty", [(AMOUNT, "six forty")]),
    ("make payment of the light 48,99 € on 15.12.", [(AMOUNT, "48,99 €"), (DATE, "on 15.12.")]),
    ("please pay rent € 54,- the 1.2.", [(AMOUNT, "€ 54,-"), (DATE, "the 1.2.")]),
    ("pay Fr. 39.- to the gym until 30.11.2026", [(AMOUNT, "Fr. 39.-"), (DATE, "30.11.2026")]),
    ("kindly pay Rs 1,450 for the current bill", [(AMOUNT, "Rs 1,450")]),
    ("Schedule rent, $1200, EOM.", [(AMOUNT, "$1200"), (DATE, "EOM")]),
    ("the fifth bill is wrong", []),
    # Issue 11: money slang, holidays, weeks on from a day; numbers that count, name or age.
    ("settle the milkman a fiver tmoz", [(AMOUNT, "a fiver"), (DATE, "tmoz")]),
    ("put two grand on the builder's invoice", [(AMOUNT, "two grand")]),
    ("the meter reading fee was 53 pounds 15", [(AMOUNT, "53 pounds 15")]),
    ("pay the paper round seventy five pence", [(AMOUNT, "seventy five pence")]),
    ("get the council tax paid by Christmas Eve", [(DATE, "by Christmas Eve")]),
    ("water bill on new year's day please", [(DATE, "new year's day")]),
    ("move the phone payment to Thursday week", [(DATE, "Thursday week")]),
    ("do the rent a week on Tuesday", [(DATE, "a week on Tuesday")]),
    ("insurance the Friday after next", [(DATE, "the Friday after next")]),
    ("anything due within the next 5 days?", [(DATE, "within the next 5 days")]),
    ("the plumber fixed 4 taps and 2 radiators, pay him £80", [(AMOUNT, "£80")]),
    ("my membership number is 44120, pay it", []),
    ("pay the physio £45 for 6 sessions", [(AMOUNT, "£45")]),
    ("i am 91 and my son usually does this", []),
    ("i want 2 pay the gas", []),
    ("open 24/7 Gym, pay them", []),
    ("ok that's all for today", []),
    ("order ref 7731-882-09", []),
    # "Everything" names every open bill; "the whole thing" after "forget" is the request called off.
    ("could you settle everything i still owe", []),
    ("pay vodafone everything", []),
    ("no, cancel the whole thing", []),
    ("forget it all, i'll do it later", []),
    ("pay the gas bill, the whole thing", [(AMOUNT, "the whole thing")]),
    # Numbers that name or count things (issue 11, amount precision), days without an ordinal ending.
    ("my customer ref is 4410 2287 5", []),
    ("the reference is 0042 please pay it", []),
    ("pay the phone bill, acct 55120-002", []),
    ("my account no is 12345678", []),
    ("i have 3 unpaid invoices", []),
    ("show my 4 most recent payments", []),
    ("pay 2 of them now", []),
    ("that's the 2nd time it failed", []),
    ("pay rent by the 3", [(DATE, "by the 3")]),
    ("pay the gym 25 in a fortnight", [(AMOUNT, "25"), (DATE, "in a fortnight")]),
    ("pay vodafone 30 next wk", [(AMOUNT, "30"), (DATE, "next wk")]),
    ("pay vodafone -20", [(AMOUNT, "-20")]),
    ("pay the second one please", []),
]


def _entities(texts: list[str]) -> list[list[list[str]]]:
    result = subprocess.run(
        [str(RASA_PYTHON), "-c", ENTITIES, str(PROJECT / "spacy_pipeline")],
        input=json.dumps(texts),
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"),
    )
    found: list[list[list[str]]] = json.loads(result.stdout.strip().splitlines()[-1])
    return found


CASES = [(rule, example) for rule in all_rules() if rule.label in (AMOUNT, DATE) for example in rule.examples]


@pytest.fixture(scope="module")
def marked(spacy_pipeline) -> dict[str, list[tuple[str, str]]]:
    """What the pipeline marks in every text of this module (one Rasa-env process: spaCy loads slowly)."""
    texts = sorted({example for _, example in CASES} | {text for text, _ in SENTENCES})
    return {
        text: [(label, span) for label, span in found]
        for text, found in zip(texts, _entities(texts), strict=True)
    }


def test_every_rule_example_is_marked_with_its_label(marked) -> None:
    missed = [
        (rule.name, example, marked[example])
        for rule, example in CASES
        if (rule.label, example) not in marked[example]
    ]
    assert not missed, missed


@pytest.mark.parametrize(("text", "expected"), SENTENCES, ids=[s for s, _ in SENTENCES])
def test_spans_in_sentences(marked, text: str, expected: list[tuple[str, str]]) -> None:
    assert marked[text] == expected
