"""The tuning loop's rules without Rasa: corrections, exports, the promotion rule, the registry's
serving history (promote, refuse, rollback), and the sealed test sets."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from tuning import registry
from tuning.evaluation import regressions
from tuning.export import annotated, nlu_yaml
from tuning.review import EntitySpan, LabelView, is_correction, normalise
from tuning.training import ROOT, refuse_sealed

FULL = {"sets": ["dev", "own"], "stories": True}  # a comparison that allows promotion


@pytest.mark.parametrize(
    ("text", "corrects"),
    [
        ("no, the phone bill", True),
        ("No the rent", True),
        ("I meant the water bill", True),
        ("actually make it 40", True),
        ("no", False),
        ("no thanks", False),
        ("nope, not now", False),
        ("pay my gas bill", False),
    ],
)
def test_corrections(text: str, corrects: bool) -> None:
    assert is_correction(text) is corrects


def test_normalise() -> None:
    assert normalise("  Sort out the LECCY!! ") == "sort out the leccy"
    assert normalise("I am [name], hi") == "i am [name] hi"


def _label(text: str, intent: str, spans: list[tuple[int, int, str]]) -> LabelView:
    from datetime import UTC, datetime

    return LabelView(
        id=1,
        text_key="k",
        text=text,
        intent=intent,
        entities=tuple(EntitySpan(s, e, name, text[s:e]) for s, e, name in spans),
        staff_username="t",
        labelled_at=datetime.now(UTC),
        turn_id=None,
    )


def test_nlu_yaml_marks_entities_and_keeps_placeholders_literal() -> None:
    label = _label("pay 40 of the phone bill", "pay_bill", [(4, 6, "amount"), (14, 19, "biller")])
    assert annotated(label) == "pay [40](amount) of the [phone](biller) bill"
    masked = _label("I am [name](really) pay", "pay_bill", [])
    assert "[name] (really)" in annotated(masked)
    text = nlu_yaml([label, masked])
    assert text.startswith('version: "3.1"\nnlu:\n- intent: pay_bill\n  examples: |\n    - pay [40](amount)')


def test_the_promotion_rule() -> None:
    served = {
        "sets": {
            "dev": {
                "macro_f1": 0.95,
                "accuracy": 0.96,
                "intents": {"pay_bill": {"f1": 0.97}, "greet": {"f1": 1.0}},
                "entities": {
                    "biller": {"f1": 0.9, "support": 5},
                    "amount": {"f1": 1.0, "support": 0},
                    "date": {"f1": 1.0, "support": 2},
                },
            }
        },
        "stories": {"conversation_accuracy": 1.0},
    }
    same = regressions(served, served, tolerance=0.01, intent_tolerance=0.05)
    assert same == []
    worse = {
        "sets": {
            "dev": {
                **served["sets"]["dev"],  # type: ignore[index]
                "macro_f1": 0.945,  # within the tolerance
                "intents": {"pay_bill": {"f1": 0.90}, "greet": {"f1": 1.0}},
                "entities": {
                    "biller": {"f1": 0.85, "support": 5},
                    "amount": {"f1": 0.0, "support": 0},  # no gold spans: not a metric
                    "date": {"f1": 1.0, "support": 2},
                },
            }
        },
        "stories": {"conversation_accuracy": 0.9},
    }
    found = {r.metric for r in regressions(served, worse, tolerance=0.01, intent_tolerance=0.05)}
    assert found == {"dev.entity.biller.f1", "dev.intent.pay_bill.f1", "stories.conversation_accuracy"}


def _model(session: Session, name: str, folder: Path) -> int:
    path = folder / f"{name}.tar.gz"
    path.write_bytes(f"model {name}".encode())  # promote checks the file's digest
    return registry.register(session, name=name, path=path, data_fingerprint=name, actor="t").id


def test_serving_history_promote_refuse_rollback(db_session: Session, tmp_path: Path) -> None:
    served: list[str] = []
    baseline, first, second = (_model(db_session, n, tmp_path) for n in ("base", "cand1", "cand2"))
    registry.mark_served(db_session, baseline, "rasa")
    assert registry.served_model_id(db_session) == baseline

    assert (
        registry.promotion_refusal(db_session, first)
        == "never compared with the served model: run compare first"
    )
    with pytest.raises(registry.PromotionRefusedError):
        registry.promote(db_session, model_id=first, actor="ann", serve=served.append)
    registry.record_metrics(
        db_session,
        first,
        {"compared_with": "base", "compared_with_id": baseline, "scored_on": FULL, "regressions": []},
    )
    view = registry.promote(db_session, model_id=first, actor="ann", serve=served.append)
    assert view.served and view.promoted_by == "ann" and served == [str(tmp_path / "cand1.tar.gz")]

    worse = [{"metric": "dev.macro_f1", "served": 0.9, "candidate": 0.8}]
    registry.record_metrics(
        db_session,
        second,
        {"compared_with": "cand1", "compared_with_id": first, "scored_on": FULL, "regressions": worse},
    )
    assert "dev.macro_f1" in (registry.promotion_refusal(db_session, second) or "")
    registry.record_metrics(
        db_session,
        second,
        {"compared_with": "base", "compared_with_id": baseline, "scored_on": FULL, "regressions": []},
    )
    assert "run compare again" in (registry.promotion_refusal(db_session, second) or "")
    registry.record_metrics(
        db_session,
        second,
        {"compared_with": "cand1", "compared_with_id": first, "scored_on": FULL, "regressions": []},
    )
    registry.promote(db_session, model_id=second, actor="bo", serve=served.append)

    assert registry.rollback(db_session, actor="cy", serve=served.append).id == first
    assert registry.rollback(db_session, actor="cy", serve=served.append).id == baseline
    with pytest.raises(registry.RegistryError, match="nothing to roll back"):
        registry.rollback(db_session, actor="cy", serve=served.append)
    assert served[-2:] == [str(tmp_path / "cand1.tar.gz"), str(tmp_path / "base.tar.gz")]
    actions = [e.action for e in registry.list_events(db_session)]
    assert actions[:2] == ["rolled_back", "rolled_back"] and "promoted" in actions


def test_a_failed_load_records_nothing(db_session: Session, tmp_path: Path) -> None:
    baseline, candidate = _model(db_session, "b", tmp_path), _model(db_session, "c", tmp_path)
    registry.mark_served(db_session, baseline, "rasa")
    registry.record_metrics(
        db_session,
        candidate,
        {"compared_with": "b", "compared_with_id": baseline, "scored_on": FULL, "regressions": []},
    )

    def broken(_path: str) -> None:
        raise RuntimeError("Rasa refused")

    with pytest.raises(RuntimeError):
        registry.promote(db_session, model_id=candidate, actor="ann", serve=broken)
    assert registry.served_model_id(db_session) == baseline


def test_sealed_test_sets_are_refused() -> None:
    for path in (ROOT / "bench/data/independent/test.yml", ROOT / "bench/data/independent2/test.yml"):
        with pytest.raises(ValueError, match="sealed"):
            refuse_sealed(path)
    refuse_sealed(ROOT / "bench/data/independent/dev.yml")


def test_conversations_export_as_rasa_test_stories(db_session: Session) -> None:
    from ruamel.yaml import YAML

    import transcripts
    from tuning.export import stories_yaml

    events = [
        {"event": "user", "text": "pay my gas bill"},
        {"event": "action", "name": "pay_bill_form"},
        {"event": "active_loop", "name": "pay_bill_form"},
        {"event": "slot", "name": "biller", "value": "gas"},
        {"event": "action", "name": "action_listen"},
    ]
    turn = {"parse": {"intent": {"name": "pay_bill", "confidence": 0.9}}, "replies": [], "events": events}
    for text in ("I am Anna Weber, pay my gas bill", "/affirm"):
        transcripts.record_turn(
            db_session,
            sender_id="s-story",
            channel="console",
            user_id=None,
            is_test=True,
            user_text=text,
            turn=turn,
        )
    text, count = stories_yaml(db_session)
    assert count >= 1 and "Anna" not in text  # other tests' committed conversations may be there too
    stories = YAML(typ="safe").load(text)["stories"]
    [story] = [s for s in stories if s["steps"][0].get("user") == "I am [name], pay my gas bill"]
    assert story["steps"][0] == {"user": "I am [name], pay my gas bill", "intent": "pay_bill"}
    assert {"action": "pay_bill_form"} in story["steps"]
    assert {"slot_was_set": [{"biller": "gas"}]} in story["steps"]
    assert {"active_loop": "pay_bill_form"} in story["steps"]
    assert {"intent": "affirm"} in story["steps"]


def test_a_promotion_survives_a_restart_while_the_project_data_is_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from settings import Settings
    from tuning import loop

    settings = Settings(TUNING_DIR=str(tmp_path / "tuning"))  # type: ignore[call-arg]
    model = tmp_path / "candidate-abc.tar.gz"
    model.write_bytes(b"model")
    assert loop.promoted_model(settings) is None
    loop.remember_served(settings, str(model))
    assert loop.promoted_model(settings) == model
    monkeypatch.setattr(loop, "project_fingerprint", lambda: "changed-data")
    assert loop.promoted_model(settings) is None  # new training data: the project's model is served


def test_latest_is_the_newest_candidate_not_a_baseline_registered_after_it(
    db_session: Session, tmp_path: Path
) -> None:
    candidate = _model(db_session, "candidate-1", tmp_path)
    _model(db_session, f"{registry.BASELINE_PREFIX}paychat-abc", tmp_path)
    assert registry.get_model(db_session, "latest").id == candidate


def test_page_offsets_are_utf16_units_of_the_lf_text_and_convert_both_ways() -> None:
    from tuning.review import LabelError, from_page_offset, to_page_offset

    text = "hi\r\n\U0001f600 pay 40"
    index = text.index("40")
    assert to_page_offset(text, index) == len(text[:index].replace("\r\n", "\n").encode("utf-16-le")) // 2
    assert from_page_offset(text, to_page_offset(text, index)) == index
    with pytest.raises(LabelError):
        from_page_offset(text, to_page_offset(text, text.index("\U0001f600")) + 1)  # inside the pair


def test_story_user_text_carries_no_entity_markup() -> None:
    import re

    from tuning.export import _escape_brackets

    rasa_entity = re.compile(r"\[[^\]]+?\](?:\(|\{|\[)")  # an annotation starts like this
    for typed in ["pay [all](amount) now", 'the [rent]{"entity": "biller"}', "I am [name][x] ok", "[a](b)"]:
        assert not rasa_entity.search(_escape_brackets(typed))
    assert _escape_brackets("I am [name], pay") == "I am [name], pay"  # placeholders kept as shown


def test_prune_exports_drops_stories_of_conversations_gone_or_anonymized(
    db_session: Session, tmp_path: Path
) -> None:
    from db.models import Conversation, utcnow
    from tests.helpers.factories import make_user
    from transcripts import record_turn
    from tuning.export import STORIES_FILE, prune_exports, stories_yaml

    user = make_user(db_session)
    turn = {"parse": {"intent": {"name": "pay_bill", "confidence": 0.9}}, "replies": [], "events": []}
    kept = record_turn(
        db_session,
        sender_id="tg-1",
        channel="telegram",
        user_id=user.id,
        is_test=False,
        user_text="pay the gas bill",
        turn=turn,
    )
    anonymized = record_turn(
        db_session,
        sender_id="tg-2",
        channel="telegram",
        user_id=user.id,
        is_test=False,
        user_text="pay the water bill, Gartenstrasse",
        turn=turn,
    )
    stories, _ = stories_yaml(db_session)
    assert "Gartenstrasse" in stories
    (tmp_path / "20260101T000000Z").mkdir()
    (tmp_path / "20260101T000000Z" / STORIES_FILE).write_text(stories, encoding="utf-8")
    conversation = db_session.get(Conversation, anonymized.conversation_id)
    assert conversation is not None
    conversation.anonymized_at = utcnow()
    db_session.flush()
    assert prune_exports(db_session, tmp_path) >= 1
    left = (tmp_path / "20260101T000000Z" / STORIES_FILE).read_text(encoding="utf-8")
    assert "Gartenstrasse" not in left and f"conversation {kept.conversation_id} (" in left
