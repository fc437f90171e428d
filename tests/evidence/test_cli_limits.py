"""`paychat limits show|set USER_ID`: a user's own limits, set and cleared, each change audited."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from db.models import AuditLogEntry, User
from paychat.cli import app
from tests.helpers.factories import make_user


def test_set_then_clear_a_users_daily_limit_audited(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'limits.db'}"
    upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine).begin() as session:
        user_id = make_user(session, name="Limited").id
    runner = CliRunner()

    shown = runner.invoke(app, ["limits", "show", str(user_id), "--database-url", url])
    assert shown.exit_code == 0, shown.output
    assert "daily: €5,000.00 (setting)" in shown.output

    own = ["limits", "set", str(user_id), "--by", "ops-anna", "--daily", "5000", "--database-url", url]
    done = runner.invoke(app, own)
    assert done.exit_code == 0, done.output
    assert "daily: €50.00 (own)" in done.output and "monthly: €20,000.00 (setting)" in done.output
    cleared = runner.invoke(
        app, ["limits", "set", str(user_id), "--by", "ops-anna", "--daily", "-1", "--database-url", url]
    )
    assert "daily: €5,000.00 (setting)" in cleared.output

    with make_session_factory(engine)() as session:
        assert session.get_one(User, user_id).daily_limit_minor is None
        rows = session.scalars(
            select(AuditLogEntry)
            .where(AuditLogEntry.event == "user.limits_changed")
            .order_by(AuditLogEntry.id)
        ).all()
        assert [(r.user_id, r.data["by"], r.data["after"]["daily_minor"]) for r in rows] == [
            (user_id, "cli:ops-anna", 5000),
            (user_id, "cli:ops-anna", None),
        ]
    engine.dispose()
    missing = runner.invoke(app, ["limits", "show", "999999", "--database-url", url])
    assert missing.exit_code == 2
