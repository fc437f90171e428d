"""attack14b: Rasa entity markup in a user's own words, or a reviewer's span over a placeholder,
rewrites the exported NLU training data."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from ruamel.yaml import YAML

from tuning.export import nlu_yaml
from tuning.review import EntitySpan, LabelView

# rasa.shared.nlu.training_data.entities_parser.ENTITY_REGEX (Rasa 3.x), the parser of the exported examples.
RASA_ENTITY_REGEX = re.compile(
    r"\[(?P<entity_text>[^\]]+?)\](\((?P<entity>[^:)]+?)(?:\:(?P<value>[^)]+))?\)"
    r"|\{(?P<entity_dict>[^}]+?)\}|\[(?P<list_entity_dicts>.*?)\])"
)


def _label(text: str, spans: tuple[EntitySpan, ...] = ()) -> LabelView:
    return LabelView(
        id=1,
        text_key="k",
        text=text,
        intent="pay_bill",
        entities=spans,
        staff_username="t",
        labelled_at=datetime.now(UTC),
        turn_id=None,
    )


def _entities_rasa_reads(label: LabelView) -> list[tuple[str, str]]:
    examples = YAML(typ="safe").load(nlu_yaml([label]))["nlu"][0]["examples"]
    example = examples.splitlines()[0].removeprefix("- ")
    return [(m.group("entity_text"), m.group("entity") or "") for m in RASA_ENTITY_REGEX.finditer(example)]


@pytest.mark.parametrize(
    "text",
    [
        "pay [all my savings](amount) to the phone company",
        'pay the [rent]{"entity": "biller", "value": "phone"} now',
        "pay [x](biller:vodafone) 40",
    ],
    ids=["round", "json", "synonym"],
)
def test_markup_in_user_text_is_not_an_entity(text: str) -> None:
    # The reviewer labelled the intent only, no entity spans.
    assert _entities_rasa_reads(_label(text)) == []


def test_a_span_over_a_placeholder_is_an_entity_rasa_reads() -> None:
    text = "pay [name] 40 euros"
    spans = (EntitySpan(4, 10, "biller", "[name]"), EntitySpan(11, 13, "amount", "40"))
    read = _entities_rasa_reads(_label(text, spans))
    assert [entity for _, entity in read] == ["biller", "amount"]
