"""`paychat audit verify` on a real database file: exit 0 on an intact chain, 1 naming the bad row."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import text
from typer.testing import CliRunner

from db.engine import make_engine, make_session_factory
from db.migrate import upgrade
from paychat.cli import app
from payments.audit import append_audit

ROOT = Path(__file__).resolve().parents[2]


def _database(tmp_path: Path) -> tuple[str, list[int]]:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine).begin() as session:
        ids = [append_audit(session, event="test.event", data={"n": n}).id for n in range(4)]
    engine.dispose()
    return url, ids


def test_verify_passes_then_names_the_altered_row(tmp_path: Path) -> None:
    url, ids = _database(tmp_path)
    runner = CliRunner()
    ok = runner.invoke(app, ["audit", "verify", "--database-url", url])
    assert ok.exit_code == 0, ok.output
    assert "audit log: ok, 4 rows" in ok.output
    head = ok.output.split("head ")[1].split()[0]

    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP TRIGGER audit_log_no_update"))
        connection.execute(text("UPDATE audit_log SET event = 'forged' WHERE id = :id"), {"id": ids[1]})
        connection.execute(text("DROP TRIGGER audit_log_no_delete"))
        connection.execute(text("DELETE FROM audit_log WHERE id = :id"), {"id": ids[3]})
    engine.dispose()
    bad = runner.invoke(app, ["audit", "verify", "--database-url", url, "--head", head])
    assert bad.exit_code == 1
    assert f"row {ids[1]}: altered" in bad.output
    assert f"row {ids[3]}: head_missing" in bad.output


def test_python_dash_m_paychat_runs(tmp_path: Path) -> None:
    url, _ = _database(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "paychat", "audit", "verify", "--database-url", url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin"},
    )
    assert done.returncode == 0, done.stderr
    assert "audit log: ok" in done.stdout
