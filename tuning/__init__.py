"""The tuning loop: from what people wrote to a better served model.

- `review`: the review queue (low confidence, fallbacks, messages the user corrected next turn),
  ranked by how often the normalised text occurs, and staff labels (intent + entity spans).
- `export`: reviewed examples as Rasa NLU YAML, conversations as Rasa test stories.
- `training`: a candidate model trained on the project's data plus the reviewed examples.
- `evaluation`: candidate vs served model on the held-out sets and the test stories.
- `registry`: every trained model with its data fingerprint and metrics; promote and rollback.
- `cli`: `paychat-tune` / `python -m tuning` (typer, rich).

Every text leaving this package (pages, exports) is redacted (privacy.redact); the sealed
independent test sets (bench/data/independent*/test.yml) are never read here.
"""
