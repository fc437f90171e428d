"""`paychat-tune` (also `python -m tuning`): export, train, compare, promote, rollback, models.

Runs on the configured database and Rasa server (DATABASE_URL, RASA_URL, RASA_SHARED_SECRET;
settings/). `--actor` names who acts in the registry (the console passes the staff member).
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from db.engine import make_engine, make_session_factory
from settings import Settings, get_settings
from tuning import evaluation, loop, registry
from tuning.training import TrainingError

app = typer.Typer(help="paychat's tuning loop: from reviewed transcripts to a better served model.")
out = Console()
ACTOR = typer.Option(None, "--actor", help="who acts (default: the login name)")


@contextmanager
def _database() -> Iterator[tuple[Settings, sessionmaker[Session]]]:
    settings = get_settings()
    engine = make_engine(settings.effective_database_url)
    try:
        yield settings, make_session_factory(engine)
    finally:
        engine.dispose()


def _actor(actor: str | None) -> str:
    return actor or getpass.getuser()


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), TimeElapsedColumn(), console=out
    )


@app.command("export")
def export_command() -> None:
    """Write reviewed examples as Rasa NLU YAML and conversations as Rasa test stories."""
    with _database() as (settings, factory), _progress() as progress:
        progress.add_task("exporting", total=None)
        result = loop.export_reviewed(settings, factory)
    out.print(f"{result.examples} reviewed examples → {result.nlu_path}")
    out.print(f"{result.stories} conversations → {result.stories_path}")
    if result.conflicts:
        out.print(
            f"[yellow]{result.conflicts} texts left out: their reviewers disagree (see the Review page)"
        )


@app.command("train")
def train_command(actor: str | None = ACTOR) -> None:
    """Export, then train a candidate model with the reviewed examples (the served model is untouched)."""
    with _database() as (settings, factory), _progress() as progress:
        task = progress.add_task("rasa train", total=None)

        def on_line(line: str) -> None:
            if "Finished training component" in line or "Restored component" in line:
                progress.update(
                    task, description="rasa train: " + line.rsplit("component", 1)[-1].strip(" .'")
                )

        try:
            exported, candidate, view = loop.train(settings, factory, actor=_actor(actor), on_line=on_line)
        except TrainingError as error:
            out.print(f"[red]{error}")
            raise typer.Exit(1) from error
    how = "reused (same data)" if candidate.reused else f"trained in {candidate.seconds:.0f} s"
    out.print(f"candidate #{view.id} {view.name}: {exported.examples} reviewed examples added, {how}")
    out.print(f"model file: {candidate.path}")


@app.command("compare")
def compare_command(
    model: str = typer.Argument("latest", help="registry id, name or 'latest'"),
    sets: str = typer.Option("own,dev", help="held-out sets: own (project split), dev (independent)"),
    stories: bool = typer.Option(True, help="also run the test stories (rasa test core)"),
) -> None:
    """Compare a candidate with the served model: per-intent table, entity F1, confusion matrices."""
    chosen = [s for s in sets.split(",") if s]
    unknown = set(chosen) - set(evaluation.SETS)
    if unknown:
        raise typer.BadParameter(f"unknown sets {sorted(unknown)} (the sealed test sets are never used)")
    with _database() as (settings, factory), _progress() as progress:
        task = progress.add_task("comparing", total=None)
        try:
            result = loop.compare(
                settings,
                factory,
                ref=model,
                sets=chosen,
                stories=stories,
                on_step=lambda step: progress.update(task, description=step),
            )
        except registry.RegistryError as error:
            out.print(f"[red]{error}")
            raise typer.Exit(1) from error
    table = Table(title=f"{result.candidate.name} vs served {result.served.name}")
    for column in ("metric", "served", "candidate"):
        table.add_column(column)
    before, after = result.candidate.metrics["served_headline"], result.candidate.metrics["headline"]
    for metric in sorted(set(before) | set(after)):
        table.add_row(metric, _num(before.get(metric)), _num(after.get(metric)))
    out.print(table)
    out.print(f"report: {result.report}")
    if result.regressions:
        out.print("[red]not promotable: " + ", ".join(r.metric for r in result.regressions))
        raise typer.Exit(2)
    if not registry.covers_promotion(result.candidate.metrics.get("scored_on")):
        sets = ",".join(registry.PROMOTION_SETS)
        out.print(f"[yellow]not promotable: a partial comparison (promote needs --sets {sets} --stories)")
        raise typer.Exit(2)
    out.print("[green]promotable: no metric got worse beyond the tolerance")


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.3f}"


@app.command("promote")
def promote_command(
    model: str = typer.Argument("latest", help="registry id, name or 'latest'"), actor: str | None = ACTOR
) -> None:
    """Serve the candidate (Rasa loads it without a restart) if no metric got worse."""
    with _database() as (settings, factory):
        try:
            view = loop.promote(settings, factory, ref=model, actor=_actor(actor))
        except registry.RegistryError as error:
            out.print(f"[red]not promoted: {error}")
            raise typer.Exit(1) from error
    out.print(f"[green]serving #{view.id} {view.name}")


@app.command("rollback")
def rollback_command(actor: str | None = ACTOR) -> None:
    """Serve again the model served before the current one."""
    with _database() as (settings, factory):
        try:
            view = loop.rollback(settings, factory, actor=_actor(actor))
        except registry.RegistryError as error:
            out.print(f"[red]{error}")
            raise typer.Exit(1) from error
    out.print(f"[green]serving #{view.id} {view.name} again")


@app.command("models")
def models_command() -> None:
    """The model registry: every trained model, its data fingerprint, metrics and who served it."""
    with _database() as (_settings, factory), factory() as session:
        models = registry.list_models(session)
    table = Table(title="model registry")
    for column in ("id", "name", "fingerprint", "added", "trained", "dev F1", "promoted by", "served"):
        table.add_column(column)
    for m in models:
        table.add_row(
            str(m.id),
            m.name,
            m.data_fingerprint,
            str(m.examples_added),
            f"{m.trained_at:%Y-%m-%d %H:%M} {m.trained_by}",
            _num(m.metrics.get("headline", {}).get("dev.macro_f1")),
            f"{m.promoted_by} {m.promoted_at:%Y-%m-%d %H:%M}" if m.promoted_at else "",
            "●" if m.served else "",
        )
    out.print(table)


def main() -> None:
    """Console-script entry point."""
    app()
