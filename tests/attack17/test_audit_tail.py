"""Attack 17: the audit chain's tail kept per transaction (d977d29, payments/audit.py `_chain_tail`).

`append_audit` remembers (transaction, hash) of the last row a plain transaction appended and links
the next row to it without reading the table. A row appended inside a savepoint is not remembered;
when that savepoint is RELEASED (committed into the transaction) its row stays, yet the
transaction's next append still links to the remembered, older row. audit_log.prev_hash is UNIQUE,
so the fork is not stored: the append raises IntegrityError and the caller's whole transaction (a
payment's move, a consent) is rolled back; without that constraint it would be a forked chain.
Fixed: an append inside a savepoint drops the kept tail, so the next one reads it again.
"""

from __future__ import annotations

from sqlalchemy.orm import sessionmaker

from db.engine import make_engine
from payments.audit import append_audit, verify_audit_chain


def test_audit_after_released_savepoint_links_to_the_savepoints_row(database_url: str) -> None:
    engine = make_engine(database_url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    try:
        with factory.begin() as session:
            first = append_audit(session, event="attack17.first")
            with session.begin_nested():
                inner = append_audit(session, event="attack17.savepoint")
            last = append_audit(session, event="attack17.after_savepoint")
            assert inner.prev_hash == first.hash
            hashes = (first.hash, inner.hash, last.prev_hash)
        with factory() as session:
            verification = verify_audit_chain(session)
        assert hashes[2] == hashes[1], "the row after the savepoint skips the savepoint's row"
        assert verification.ok, verification.problems
    finally:
        engine.dispose()
