"""The review queue and labelling pages, the model registry page, and redaction of every transcript
view and export against the seeded personal-data corpus (tests/helpers/pii_corpus.py)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

import transcripts
from db.models import ReviewLabel
from privacy.redact import redact
from tests.console.conftest import Seed, channel_body, login
from tests.helpers.pii_corpus import corpus, leaks
from tuning.export import export
from tuning.review import normalise

BACKENDS = pytest.mark.parametrize(
    "console_database_url", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)


def _turn(
    session: Session, sender: str, text: str, *, intent: str, confidence: float, **extra: object
) -> int:
    body = channel_body("ok", intent=intent, confidence=confidence, **extra)  # type: ignore[arg-type]
    return transcripts.record_turn(
        session, sender_id=sender, channel="console", user_id=None, is_test=True, user_text=text, turn=body
    ).id


def _seed_queue(session_factory: sessionmaker[Session]) -> dict[str, int]:
    with session_factory.begin() as session:
        ids = {
            "leccy": _turn(session, "c1", "sort out the leccy", intent="nlu_fallback", confidence=0.3),
            "fine": _turn(session, "c1", "pay my electricity bill", intent="pay_bill", confidence=0.98),
            "corrected": _turn(session, "c2", "pay my gas bill", intent="pay_bill", confidence=0.9),
            "correction": _turn(session, "c2", "no, the phone bill", intent="inform", confidence=0.95),
        }
        _turn(session, "c3", "Sort out the LECCY!", intent="greet", confidence=0.4)
        _turn(session, "c4", "sort out the leccy", intent="nlu_fallback", confidence=0.2)
    return ids


@BACKENDS
def test_the_queue_ranks_flagged_messages_by_frequency(
    client: TestClient, session_factory: sessionmaker[Session], seed: Seed
) -> None:
    ids = _seed_queue(session_factory)
    login(client, "viewer")
    page = client.get("/review")
    assert page.status_code == 200
    rows = page.text.split('class="review-item"')[1:]
    assert "sort out the leccy" in rows[0] and "3\u00d7" in rows[0]  # three spellings, one normalised text
    assert "fallback" in rows[0] and "low confidence" in rows[0]
    corrected = next(r for r in rows if "pay my gas bill" in r)
    assert "corrected next turn" in corrected
    assert "pay my electricity bill" not in page.text  # confident and not corrected
    assert f'data-turn="{ids["leccy"]}"' in rows[0]
    assert "/review/turns/" not in page.text  # viewers see the queue, testers label


@BACKENDS
def test_a_tester_labels_intent_and_spans_and_conflicts_show(
    client: TestClient, session_factory: sessionmaker[Session], seed: Seed
) -> None:
    ids = _seed_queue(session_factory)
    csrf = login(client, "tester")
    page = client.get(f"/review/turns/{ids['leccy']}")
    assert page.status_code == 200 and 'id="review-text"' in page.text
    entities = '[{"start": 13, "end": 18, "entity": "biller"}]'
    saved = client.post(
        f"/review/turns/{ids['leccy']}/label",
        data={"intent": "pay_bill", "entities": entities, "csrf_token": csrf},
    )
    assert saved.status_code == 303
    with session_factory() as session:
        label = session.scalars(select(ReviewLabel)).one()
    assert (label.intent, label.staff_username, label.text) == ("pay_bill", "tester", "sort out the leccy")
    assert label.entities == [{"start": 13, "end": 18, "entity": "biller", "value": "leccy"}]
    assert label.labelled_at is not None

    bad = client.post(
        f"/review/turns/{ids['leccy']}/label", data={"intent": "no_such_intent", "csrf_token": csrf}
    )
    assert bad.status_code == 400 and "unknown intent" in bad.text
    outside = client.post(
        f"/review/turns/{ids['leccy']}/label",
        data={
            "intent": "pay_bill",
            "entities": '[{"start": 5, "end": 99, "entity": "biller"}]',
            "csrf_token": csrf,
        },
    )
    assert outside.status_code == 400

    client.post("/logout", data={"csrf_token": csrf})
    csrf = login(client, "admin")
    client.post(f"/review/turns/{ids['leccy']}/label", data={"intent": "check_bills", "csrf_token": csrf})
    queue = client.get("/review").text
    first = queue.split('class="review-item"')[1]
    assert "conflict" in first and "by tester" in first and "by admin" in first


def test_viewers_cannot_label(client: TestClient, session_factory: sessionmaker[Session], seed: Seed) -> None:
    ids = _seed_queue(session_factory)
    csrf = login(client, "viewer")
    assert client.get(f"/review/turns/{ids['leccy']}").status_code == 403
    answer = client.post(
        f"/review/turns/{ids['leccy']}/label", data={"intent": "pay_bill", "csrf_token": csrf}
    )
    assert answer.status_code == 403


def test_no_seeded_secret_leaks_into_pages_api_or_exports(
    client: TestClient, session_factory: sessionmaker[Session], seed: Seed, tmp_path: Path
) -> None:
    items = corpus()
    with session_factory.begin() as session:
        for index, item in enumerate(items):
            _turn(
                session,
                f"pii-{index}",
                item.text,
                intent="inform",
                confidence=0.2,  # every one in the review queue
                slots={"note": item.text},
                events=[
                    {"event": "user", "text": item.text},
                    {"event": "bot", "text": f"You said: {item.text}"},
                ],
                entities=[{"entity": "biller", "value": item.text, "start": 0, "end": len(item.text)}],
            )
        conversation_ids = [c.id for c in transcripts.list_conversations(session, limit=1000)]
        first_turn = session.scalars(select(ReviewLabel.id)).first()
    assert first_turn is None and len(conversation_ids) == len(items)
    csrf = login(client, "admin")
    every_secret = [secret for item in items for secret in item.secrets]

    pages = [client.get("/review").text, client.get("/transcripts").text]
    for conversation_id in conversation_ids:
        pages.append(client.get(f"/transcripts/{conversation_id}").text)
        pages.append(client.get(f"/api/transcripts/{conversation_id}").text)
    pages.append(client.get("/api/transcripts?limit=500").text)
    queue = client.get("/review").text
    turn_ids = sorted({int(part.split('"')[0]) for part in queue.split('data-turn="')[1:]})
    assert len(turn_ids) == len({normalise(redact(item.text)) for item in items})  # grouped as masked
    for turn_id in turn_ids:
        pages.append(client.get(f"/review/turns/{turn_id}").text)
        client.post(f"/review/turns/{turn_id}/label", data={"intent": "inform", "csrf_token": csrf})
    with session_factory() as session:
        result = export(session, tmp_path / "export")
    assert result.examples == len(turn_ids) and result.stories == len(items)
    files = [result.nlu_path.read_text(encoding="utf-8"), result.stories_path.read_text(encoding="utf-8")]

    for index, rendered in enumerate(pages + files):
        assert leaks(rendered, every_secret) == [], f"leak in rendered item {index}"
    # The scanner itself sees the secrets when they are there.
    assert leaks(items[0].text, every_secret)


def test_the_models_page_is_for_admins_and_runs_a_command(
    client: TestClient, session_factory: sessionmaker[Session], seed: Seed, tmp_path: Path
) -> None:
    _seed_queue(session_factory)
    csrf = login(client, "tester")
    assert client.get("/models").status_code == 403
    client.post("/logout", data={"csrf_token": csrf})
    csrf = login(client, "admin")
    assert client.get("/models").status_code == 200
    started = client.post("/models/run/export", data={"csrf_token": csrf})
    assert started.status_code == 303
    deadline = time.monotonic() + 120
    while 'data-state="running"' in (page := client.get("/models").text):
        assert time.monotonic() < deadline, page
        time.sleep(0.5)
    assert 'data-state="done"' in page, page
    assert "reviewed examples" in page
    assert client.post("/models/run/format-disk", data={"csrf_token": csrf}).status_code == 409
