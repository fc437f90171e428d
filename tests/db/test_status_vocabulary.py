"""One vocabulary of statuses: the StrEnums are the source, and every CHECK constraint lists exactly them.

The models' constraints (db/models.py) and the constraints the migrations leave in a database, on
SQLite and PostgreSQL, are parsed and compared with the enums in payments.statuses (and the staff
roles in console.roles), so a status added to one place and forgotten in another fails here.
"""

from __future__ import annotations

import re
from enum import StrEnum

import pytest
from sqlalchemy import CheckConstraint, Engine, text

from console.roles import Role
from db.models import Base
from payments.statuses import (
    BillStatus,
    NotificationKind,
    OfferClosedReason,
    PaymentStatus,
    RefundStatus,
    ScheduleStatus,
)

# (table, constraint name as the naming convention writes it) → the enum whose values it must list.
VOCABULARIES: dict[tuple[str, str], type[StrEnum]] = {
    ("payments", "ck_payments_status_valid"): PaymentStatus,
    ("bills", "ck_bills_status_valid"): BillStatus,
    ("scheduled_payments", "ck_scheduled_payments_status_valid"): ScheduleStatus,
    ("notifications", "ck_notifications_kind_valid"): NotificationKind,
    ("staff_users", "ck_staff_users_role_valid"): Role,
    ("summary_offers", "ck_summary_offers_closed_reason_valid"): OfferClosedReason,
    ("refunds", "ck_refunds_status_valid"): RefundStatus,
}
QUOTED = re.compile(r"'([^']*)'")


def _values(check_sql: str) -> set[str]:
    return set(QUOTED.findall(check_sql))


def _enum_values(enum: type[StrEnum]) -> set[str]:
    return {member.value for member in enum}


def _check_in_sqlite(create_sql: str, name: str) -> str:
    """The body of `CONSTRAINT <name> CHECK (…)` in a SQLite CREATE TABLE statement."""
    start = create_sql.index(f"CONSTRAINT {name} CHECK (") + len(f"CONSTRAINT {name} CHECK (")
    depth = 1
    for end in range(start, len(create_sql)):
        depth += {"(": 1, ")": -1}.get(create_sql[end], 0)
        if depth == 0:
            return create_sql[start:end]
    raise AssertionError(f"unterminated CHECK {name}")


def _migrated_check(engine: Engine, table: str, name: str) -> str:
    with engine.connect() as connection:
        if engine.dialect.name == "sqlite":
            create_sql = connection.execute(
                text("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :table"), {"table": table}
            ).scalar_one()
            return _check_in_sqlite(str(create_sql), name)
        return str(
            connection.execute(
                text(
                    "SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c "
                    "JOIN pg_class t ON t.oid = c.conrelid WHERE c.conname = :name AND t.relname = :table"
                ),
                {"name": name, "table": table},
            ).scalar_one()
        )


@pytest.mark.parametrize(("table", "name"), list(VOCABULARIES))
def test_the_models_constraints_list_exactly_the_enum(table: str, name: str) -> None:
    constraints = {
        str(c.name): str(c.sqltext)
        for c in Base.metadata.tables[table].constraints
        if isinstance(c, CheckConstraint)
    }
    assert _values(constraints[name]) == _enum_values(VOCABULARIES[(table, name)])


@pytest.mark.parametrize(("table", "name"), list(VOCABULARIES))
def test_the_migrated_constraints_list_exactly_the_enum(db_engine: Engine, table: str, name: str) -> None:
    assert _values(_migrated_check(db_engine, table, name)) == _enum_values(VOCABULARIES[(table, name)])


def test_the_check_parser_reads_both_dialects() -> None:
    sqlite = "CREATE TABLE t (x, CONSTRAINT ck_t_x CHECK (x IN ('a', 'b')), y)"
    assert _values(_check_in_sqlite(sqlite, "ck_t_x")) == {"a", "b"}
    postgres = "CHECK (((x)::text = ANY ((ARRAY['a'::character varying, 'b'::character varying])::text[])))"
    assert _values(postgres) == {"a", "b"}
