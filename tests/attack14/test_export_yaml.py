"""attack14: a user text with a non-\\n line break breaks or rewrites the exported NLU YAML."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime

import pytest
from ruamel.yaml import YAML
from sqlalchemy.orm import Session

from tests.rasa.conftest import RASA_PYTHON
from tuning.export import annotated, nlu_yaml
from tuning.review import EntitySpan, LabelView


@pytest.mark.parametrize("text", ["pay\rthe phone bill", "pay\u2028the phone bill", "pay\x85the phone bill"])
def test_exported_example_round_trips(text: str) -> None:
    label = LabelView(
        id=1,
        text_key="k",
        text=text,
        intent="pay_bill",
        entities=(),
        staff_username="t",
        labelled_at=datetime.now(UTC),
        turn_id=None,
    )
    data = YAML(typ="safe").load(nlu_yaml([label]))
    assert data["nlu"][0]["examples"] == "- pay the phone bill\n"


# Every character str.splitlines or YAML treats as a line break, other whitespace, and controls.
BREAKERS = ["\n", "\r\n", "\x0b", "\x0c", "\x1c", "\x1d", "\x1e", "\u2029", "\t", "\x00", "\x1b", "\x7f"]


def _label(text: str, spans: tuple[EntitySpan, ...] = (), intent: str = "pay_bill") -> LabelView:
    return LabelView(
        id=1,
        text_key="k",
        text=text,
        intent=intent,
        entities=spans,
        staff_username="t",
        labelled_at=datetime.now(UTC),
        turn_id=None,
    )


@pytest.mark.parametrize("breaker", BREAKERS, ids=[f"U+{ord(b[-1]):04X}" for b in BREAKERS])
def test_any_line_break_or_control_becomes_one_space(breaker: str) -> None:
    data = YAML(typ="safe").load(nlu_yaml([_label(f"pay{breaker}the phone bill")]))
    assert data["nlu"][0]["examples"] == "- pay the phone bill\n"


def test_entity_offsets_survive_a_line_break_before_them() -> None:
    text = "pay\r\n40 to\u2028the phone"
    spans = (EntitySpan(5, 7, "amount", "40"), EntitySpan(15, 20, "biller", "phone"))
    assert annotated(_label(text, spans)) == "pay [40](amount) to the [phone](biller)"
    glued = "40€ for the phone"  # no space is invented next to an entity
    assert annotated(_label(glued, (EntitySpan(0, 2, "amount", "40"),))) == "[40](amount)€ for the phone"


def test_yaml_syntax_in_an_example_stays_text() -> None:
    text = 'key: value # not a comment "quoted" - [x] {y} &a *b !tag |'
    data = YAML(typ="safe").load(nlu_yaml([_label(text), _label("- leading dash", intent="greet")]))
    assert data["nlu"][0]["examples"] == "- - leading dash\n"
    assert data["nlu"][1]["examples"] == f"- {text}\n"


def test_a_text_of_only_whitespace_is_left_out() -> None:
    assert YAML(typ="safe").load(nlu_yaml([_label("\u2028\r \x85")])) == {"version": "3.1", "nlu": []}


def test_stories_keep_slot_values_and_texts_on_one_line(db_session: Session) -> None:
    import transcripts
    from tuning.export import stories_yaml

    events = [{"event": "slot", "name": "note", "value": "line one\u2028line two\x85three\rfour"}]
    turn = {"parse": {"intent": {"name": "pay_bill", "confidence": 0.9}}, "replies": [], "events": events}
    transcripts.record_turn(
        db_session,
        sender_id="s-attack14-story",
        channel="console",
        user_id=None,
        is_test=True,
        user_text="pay\u2028my gas\x85bill",
        turn=turn,
    )
    text, _ = stories_yaml(db_session)
    stories = YAML(typ="safe").load(text)["stories"]
    [story] = [s for s in stories if s["steps"][0].get("user") == "pay my gas bill"]
    assert {"slot_was_set": [{"note": "line one line two three four"}]} in story["steps"]


READ_WITH_RASA = """
import json, sys
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader
data = RasaYAMLReader().reads(sys.stdin.read())
print(json.dumps([[m.get("text"), m.get("intent"), [(e["start"], e["end"], e["entity"]) for e in
                   m.get("entities") or []]] for m in data.training_examples]))
"""


def test_rasa_reads_the_export_with_the_same_texts() -> None:
    labels = [
        _label("pay\u2028the phone bill"),
        _label("pay\r40 now", (EntitySpan(4, 6, "amount", "40"),)),
        _label('a "quoted" #text: here\x85ok', intent="greet"),
    ]
    result = subprocess.run(
        [str(RASA_PYTHON), "-c", READ_WITH_RASA],
        input=nlu_yaml(labels),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    read = sorted(
        tuple((t, i, [tuple(e) for e in es])) for t, i, es in json.loads(result.stdout.splitlines()[-1])
    )
    assert read == sorted(
        [
            ("pay the phone bill", "pay_bill", []),
            ("pay 40 now", "pay_bill", [(4, 6, "amount")]),
            ('a "quoted" #text: here ok', "greet", []),
        ]
    )
