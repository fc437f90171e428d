"""Exports: reviewed examples as Rasa NLU YAML, recorded conversations as Rasa test stories.

Texts are the redacted ones (privacy.redact, through transcripts' views and the labels, which hold
the redacted text the reviewer saw), so no personal data leaves in a file. Texts whose reviewers
disagree are left out of the NLU file and reported. The test stories write the slots the custom
actions set, since actions do not run inside `rasa test` (notes/rasa.md).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

import transcripts
from db.models import Conversation
from privacy.redact import PLACEHOLDERS, redact
from tuning.review import LabelView, agreed_examples, labels_by_key, text_key

NLU_FILE = "reviewed_nlu.yml"
STORIES_FILE = "conversation_stories.yml"


@dataclass(frozen=True)
class ExportResult:
    """Where the files went and what they hold."""

    nlu_path: Path
    stories_path: Path
    examples: int
    conflicts: int
    stories: int


def _quote(text: str) -> str:
    """A YAML double-quoted scalar."""
    return json.dumps(text, ensure_ascii=False)


def _escape_brackets(text: str) -> str:
    # A placeholder like "[name]" followed by "(" would read as an entity annotation; a space breaks it.
    for placeholder in PLACEHOLDERS:
        text = text.replace(placeholder + "(", placeholder + " (").replace(
            placeholder + "{", placeholder + " {"
        )
    return text


def annotated(label: LabelView) -> str:
    """The example in Rasa's markup: "pay [40](amount) of the [phone](biller) bill"."""
    text = " ".join(label.text.split("\n"))
    out, last = "", 0
    for span in sorted(label.entities, key=lambda s: s.start):
        out += _escape_brackets(text[last : span.start]) + f"[{text[span.start : span.end]}]({span.entity})"
        last = span.end
    return out + _escape_brackets(text[last:])


def nlu_yaml(labels: list[LabelView]) -> str:
    """Rasa NLU training data (YAML, version 3.1) of the labelled examples, grouped by intent."""
    by_intent: dict[str, list[str]] = defaultdict(list)
    for label in labels:
        example = annotated(label)
        if example not in by_intent[label.intent]:
            by_intent[label.intent].append(example)
    lines = ['version: "3.1"', "nlu:"]
    for intent in sorted(by_intent):
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {example}" for example in by_intent[intent]]
    if not by_intent:
        lines[-1] = "nlu: []"
    return "\n".join(lines) + "\n"


def _story_steps(detail: transcripts.ConversationDetail, labels: dict[str, list[LabelView]]) -> list[str]:
    steps: list[str] = []
    for turn in detail.turns:
        text = " ".join(turn.user_text.split())
        reviewed = labels.get(text_key(turn.user_text)) or []
        agreed = {label.signature() for label in reviewed}
        intent = reviewed[-1].intent if reviewed and len(agreed) == 1 else turn.intent
        if text.startswith("/"):
            steps.append(f"  - intent: {text[1:].split('{')[0] or intent}")
        elif intent:
            steps += [f"  - user: {_quote(_escape_brackets(text))}", f"    intent: {intent}"]
        for event in turn.events:
            kind = event.get("event")
            if kind == "action" and event.get("name") not in (None, "action_listen"):
                steps.append(f"  - action: {event['name']}")
            elif kind == "slot" and event.get("name"):
                value = json.dumps(event.get("value"), ensure_ascii=False)
                steps.append(f"  - slot_was_set:\n    - {event['name']}: {value}")
            elif kind == "active_loop":
                steps.append(f"  - active_loop: {json.dumps(event.get('name'))}")
    return steps


def stories_yaml(session: Session, *, limit: int = 500) -> tuple[str, int]:
    """Rasa test stories of the most recent conversations (redacted), and how many were written."""
    ids = list(
        session.scalars(
            select(Conversation.id)
            .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
            .limit(limit)
        )
    )
    labels = labels_by_key(session)
    lines = ['version: "3.1"', "stories:"]
    written = 0
    for conversation_id in sorted(ids):
        detail = transcripts.get_conversation(session, conversation_id)
        if detail is None or not detail.turns:
            continue
        steps = _story_steps(detail, labels)
        if not steps:
            continue
        summary = detail.summary
        title = redact(f"conversation {summary.id} ({summary.channel}, {summary.started_at:%Y-%m-%d})")
        lines += [f"- story: {_quote(title)}", "  steps:", *steps]
        written += 1
    if not written:
        lines[-1] = "stories: []"
    return "\n".join(lines) + "\n", written


def export(session: Session, out_dir: Path) -> ExportResult:
    """Write the reviewed NLU examples and the conversation test stories into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    agreed, conflicts = agreed_examples(session)
    nlu_path = out_dir / NLU_FILE
    nlu_path.write_text(nlu_yaml(agreed), encoding="utf-8")
    stories, count = stories_yaml(session)
    stories_path = out_dir / STORIES_FILE
    stories_path.write_text(stories, encoding="utf-8")
    return ExportResult(
        nlu_path=nlu_path,
        stories_path=stories_path,
        examples=len(agreed),
        conflicts=len(conflicts),
        stories=count,
    )
