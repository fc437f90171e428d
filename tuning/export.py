"""Exports: reviewed examples as Rasa NLU YAML, recorded conversations as Rasa test stories.

Texts are the redacted ones (privacy.redact, through transcripts' views and the labels, which hold
the redacted text the reviewer saw), so no personal data leaves in a file. Texts whose reviewers
disagree are left out of the NLU file and reported. The test stories write the slots the custom
actions set, since actions do not run inside `rasa test` (notes/rasa.md).

Both files come from ruamel.yaml's emitter (never hand-built lines) and are checked to load back as
written; every text is first made one line (`one_line`: \\r, U+0085, U+2028 … become a space,
controls go), since Rasa splits examples with `str.splitlines` and YAML folds its own line breaks.
"""

from __future__ import annotations

import io
import math
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString
from sqlalchemy import select
from sqlalchemy.orm import Session

import transcripts
from db.models import Conversation
from privacy.redact import redact
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


def one_line(text: str) -> str:
    """`text` as one line of single spaces: every whitespace run (\\n, \\r, U+0085, U+2028, tabs …)
    becomes a space and control characters go. Rasa splits NLU examples with `str.splitlines` and
    YAML folds its own line breaks, so any other form would cut or change an example."""
    kept = "".join(" " if unicodedata.category(ch) in ("Cc", "Cs") else ch for ch in text)
    return " ".join(kept.split())


def _dump(data: dict[str, Any]) -> str:
    """YAML text of `data` from ruamel's emitter, checked to load back as the same data."""
    yaml = YAML(typ="rt")
    yaml.indent(mapping=2, sequence=2, offset=0)
    yaml.width = 4096
    stream = io.StringIO()
    yaml.dump(data, stream)
    text = stream.getvalue()
    if YAML(typ="safe").load(text) != _plain(data):
        raise ValueError("the exported YAML does not load back as written")
    return text


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return str(value) if isinstance(value, str) else value


# Rasa reads "[text](entity)", "[text]{...}" and "[text][...]" as entity markup
# (rasa.shared.nlu.training_data.entities_parser.ENTITY_REGEX), in NLU examples and in the "user:"
# steps of test stories alike, and has no escape for it. Text nobody reviewed as an entity (what
# the user typed, a placeholder like "[name]") must never form that shape: a "]" right before
# "(", "{" or "[" gets a space, and a "[" with no "]" after it in the same stretch of text (it
# would open an annotation closed by the reviewed entity that follows) becomes "(".
_MARKUP_JOIN = re.compile(r"\](?=[(\[{])")


def _escape_markup(text: str) -> str:
    """`text` (never inside a reviewed span) in a form Rasa reads no entity markup in."""
    text = _MARKUP_JOIN.sub("] ", text)
    last_close = text.rfind("]")
    opens = [i for i, ch in enumerate(text) if ch == "[" and i > last_close]
    for index in opens:
        text = text[:index] + "(" + text[index + 1 :]
    if text.endswith("]"):
        text += " "  # a reviewed entity's "[" may follow
    return text


def _escape_brackets(text: str) -> str:
    """A whole unreviewed text (a story's user step) with no entity markup Rasa would read."""
    escaped = _escape_markup(text)
    return escaped[:-1] if text.endswith("]") else escaped


def _entity_text(value: str) -> str:
    # Rasa's entity text stops at the first "]": a reviewed span over a placeholder ("[name]") is
    # written with round brackets, "[(name)](biller)", so the entity is still read.
    return value.replace("[", "(").replace("]", ")")


def annotated(label: LabelView) -> str:
    """The example in Rasa's markup: "pay [40](amount) of the [phone](biller) bill"; the rest of
    the text is made free of markup (`_escape_markup`)."""
    text, out, last = label.text, "", 0
    for span in sorted(label.entities, key=lambda s: s.start):
        raw = text[span.start : span.end]
        value = _entity_text(one_line(raw))
        out += _escape_markup(text[last : span.start])
        if value:  # whitespace a reviewer's span took in stays outside the brackets
            before = " " if one_line(raw[:1]) == "" else ""
            after = " " if one_line(raw[-1:]) == "" else ""
            out += f"{before}[{value}]({span.entity}){after}"
        else:
            out += " "
        last = span.end
    return one_line(out + _escape_markup(text[last:]))


def nlu_yaml(labels: list[LabelView]) -> str:
    """Rasa NLU training data (YAML, version 3.1) of the labelled examples, grouped by intent."""
    by_intent: dict[str, list[str]] = defaultdict(list)
    for label in labels:
        example = annotated(label)
        if example and example not in by_intent[label.intent]:
            by_intent[label.intent].append(example)
    nlu = [
        {"intent": intent, "examples": LiteralScalarString("".join(f"- {e}\n" for e in by_intent[intent]))}
        for intent in sorted(by_intent)
    ]
    return _dump({"version": DoubleQuotedScalarString("3.1"), "nlu": nlu})


def _story_steps(
    detail: transcripts.ConversationDetail, labels: dict[str, list[LabelView]]
) -> list[dict[str, Any]]:
    steps: list[dict[str, Any]] = []
    for turn in detail.turns:
        text = one_line(turn.user_text)
        reviewed = labels.get(text_key(turn.user_text)) or []
        agreed = {label.signature() for label in reviewed}
        intent = reviewed[-1].intent if reviewed and len(agreed) == 1 else turn.intent
        if text.startswith("/"):
            steps.append({"intent": text[1:].split("{")[0] or intent})
        elif intent:
            steps.append({"user": DoubleQuotedScalarString(_escape_brackets(text)), "intent": intent})
        for event in turn.events:
            kind = event.get("event")
            if kind == "action" and event.get("name") not in (None, "action_listen"):
                steps.append({"action": str(event["name"])})
            elif kind == "slot" and event.get("name"):
                steps.append({"slot_was_set": [{str(event["name"]): _slot_value(event.get("value"))}]})
            elif kind == "active_loop":
                name = event.get("name")
                steps.append({"active_loop": None if name is None else str(name)})
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
    stories: list[dict[str, Any]] = []
    for conversation_id in sorted(ids):
        detail = transcripts.get_conversation(session, conversation_id)
        if detail is None or not detail.turns:
            continue
        steps = _story_steps(detail, labels)
        if not steps:
            continue
        summary = detail.summary
        title = redact(f"conversation {summary.id} ({summary.channel}, {summary.started_at:%Y-%m-%d})")
        stories.append({"story": DoubleQuotedScalarString(title), "steps": steps})
    return _dump({"version": DoubleQuotedScalarString("3.1"), "stories": stories}), len(stories)


def _slot_value(value: Any) -> Any:
    """A slot value as JSON-like data with every string on one line (YAML- and Rasa-safe)."""
    if isinstance(value, str):
        return one_line(value)
    if isinstance(value, dict):
        return {one_line(str(k)): _slot_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_slot_value(v) for v in value]
    if value is None or isinstance(value, bool | int) or (isinstance(value, float) and math.isfinite(value)):
        return value
    return one_line(str(value))  # NaN/inf too: YAML's .nan would not compare equal on loading


_STORY_TITLE = re.compile(r"conversation (\d+) \(")


def prune_exports(session: Session, exports_dir: Path) -> int:
    """Drop from every earlier export's test stories the conversations that are gone from the
    database (retention, /forget) or anonymized since; returns how many stories went.

    An export is a copy of transcripts: retention and erasure must reach it too (the worker's
    retention step calls this). The stories file is rewritten without them; the NLU file holds
    only reviewed labels, which /forget deletes at the source.
    """
    removed = 0
    live = set(session.scalars(select(Conversation.id).where(Conversation.anonymized_at.is_(None))))
    for path in sorted(exports_dir.glob(f"*/{STORIES_FILE}")):
        data = YAML(typ="safe").load(path.read_text(encoding="utf-8")) or {}
        stories = data.get("stories") or []
        kept = []
        for story in stories:
            match = _STORY_TITLE.match(str(story.get("story", "")))
            if match is not None and int(match.group(1)) in live:
                kept.append(story)
        if len(kept) == len(stories):
            continue
        removed += len(stories) - len(kept)
        data["version"] = DoubleQuotedScalarString(str(data.get("version", "3.1")))
        data["stories"] = [
            {
                "story": DoubleQuotedScalarString(str(s["story"])),
                **{k: v for k, v in s.items() if k != "story"},
            }
            for s in kept
        ]
        path.write_text(_dump(data), encoding="utf-8")
    return removed


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
