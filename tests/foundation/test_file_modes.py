"""Local data files are private: var/ is 0700 and what is created in it 0600 (issue 10, item 12).

Each test runs the real code on a temporary var folder while this process's umask is the usual
022, which would leave everything world-readable unless the code itself sees to it.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from db.engine import make_engine
from db.migrate import upgrade
from scripts import procs
from scripts.run import dev_secrets, prepare_var_dir


def mode(path: Path) -> int:
    """The permission bits of `path`."""
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """Run each test under umask 022 (what a login shell usually has), restoring ours afterwards."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def test_make_run_makes_an_existing_var_folder_private(tmp_path: Path) -> None:
    var = tmp_path / "var"
    (var / "log").mkdir(parents=True)
    var.chmod(0o755)
    (var / "paychat.db").write_text("")
    (var / "paychat.db").chmod(0o644)
    (var / "log" / "rasa.log").write_text("old log")
    (var / "log" / "rasa.log").chmod(0o644)
    try:
        prepare_var_dir(var)
        created = var / "created-after.txt"
        created.write_text("x")
        assert mode(created) == 0o600  # the umask of this process (and so of its children)
    finally:
        os.umask(0o022)
    assert mode(var) == 0o700
    assert mode(var / "log") == 0o700
    assert mode(var / "paychat.db") == 0o600
    assert mode(var / "log" / "rasa.log") == 0o600


def test_make_run_creates_a_new_var_folder_private(tmp_path: Path) -> None:
    var = tmp_path / "fresh" / "var"
    try:
        prepare_var_dir(var)
    finally:
        os.umask(0o022)
    assert mode(var) == 0o700


def test_dev_secrets_are_private_from_the_start(tmp_path: Path) -> None:
    secrets = dev_secrets(tmp_path)
    assert secrets["ACTION_SERVER_SECRET"] and secrets["RASA_SHARED_SECRET"]
    assert mode(tmp_path / "dev-secrets.json") == 0o600
    (tmp_path / "dev-secrets.json").chmod(0o644)
    (tmp_path / "dev-secrets.json").write_text("{}")
    dev_secrets(tmp_path)  # fills in the missing ones: rewritten, and private again
    assert mode(tmp_path / "dev-secrets.json") == 0o600


def test_a_new_sqlite_database_and_its_wal_files_are_private(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'var' / 'paychat.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
            connection.execute(text("INSERT INTO t VALUES (1)"))
            created = sorted(p.name for p in (tmp_path / "var").iterdir())
            assert {"paychat.db", "paychat.db-wal", "paychat.db-shm"} <= set(created)
            for name in created:
                assert mode(tmp_path / "var" / name) == 0o600, name
    finally:
        engine.dispose()
    assert mode(tmp_path / "var") == 0o700


def test_supervised_children_and_their_logs_are_private(tmp_path: Path) -> None:
    var = tmp_path / "var"
    var.mkdir(mode=0o700)
    made = var / "made-by-child.db"
    code = "import sys, time; open(sys.argv[1], 'w').write('x'); time.sleep(60)"
    spec = procs.ProcessSpec(name="writer", argv=[sys.executable, "-c", code, str(made)], ready_timeout=5)
    with procs.supervised(var / "log", procs.base_env()) as supervisor:
        supervisor.start(spec)
        assert made.exists()
        assert mode(made) == 0o600
        assert mode(var / "log") == 0o700
        assert mode(var / "log" / "writer.log") == 0o600


def test_one_off_commands_create_private_files(tmp_path: Path) -> None:
    made = tmp_path / "one-off.txt"
    procs.run_checked(
        [sys.executable, "-c", "import sys; open(sys.argv[1], 'w').write('x')", str(made)],
        env=procs.base_env(),
    )
    assert mode(made) == 0o600


@pytest.mark.e2e
def test_the_running_assistant_keeps_its_files_private(assistant_stack) -> None:
    """The stack runs as `make run` does: its databases, the Rasa tracker store and logs are 0600."""
    workdir = Path(assistant_stack.settings.var_dir)
    names = {p.relative_to(workdir).as_posix() for p in workdir.rglob("*")}
    assert {"paychat.db", "rasa-tracker.db", "log/rasa.log", "log/action-server.log"} <= names
    wide = {name: oct(mode(workdir / name)) for name in names if mode(workdir / name) & 0o077}
    assert wide == {}
