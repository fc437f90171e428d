"""Personal data encrypted at rest: column types that encrypt with the keys from the environment.

`EncryptedText` and `EncryptedJSON` store a Fernet token (AES-128-CBC + HMAC-SHA256, from the
`cryptography` package) instead of the value; `MultiFernet` decrypts with any configured key and
encrypts with the first (newest), so keys rotate without downtime: put a new key first in
PAYCHAT_DATA_KEYS, restart, run `paychat keys rotate` (re-encrypts every value under the newest
key), then drop the old key. Which columns are encrypted, and why, is in README "Safety controls".

The keyring is read from settings on first use (never at import); tests may `use_keys(...)`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Dialect, Text, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.types import TypeDecorator


class KeyringError(Exception):
    """No usable key, or a stored value none of the configured keys can decrypt."""


class Keyring:
    """The configured Fernet keys, newest first."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise KeyringError("no data encryption key configured (PAYCHAT_DATA_KEYS)")
        try:
            self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        except (ValueError, TypeError) as error:
            raise KeyringError(f"PAYCHAT_DATA_KEYS holds an invalid Fernet key: {error}") from None

    def encrypt(self, value: str) -> str:
        """A token of `value` under the newest key."""
        return self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, token: str) -> str:
        """The value of a token made with any configured key."""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise KeyringError("a stored value cannot be decrypted with any configured key") from None

    def rotate(self, token: str) -> str:
        """The same value re-encrypted under the newest key."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken:
            raise KeyringError("a stored value cannot be decrypted with any configured key") from None


_keyring: Keyring | None = None


def keyring() -> Keyring:
    """The process's keyring, built from settings on first use."""
    global _keyring
    if _keyring is None:
        from settings import get_settings

        _keyring = Keyring(get_settings().effective_data_keys)
    return _keyring


def use_keys(keys: Sequence[str] | None) -> None:
    """Use these keys from now on (None: read settings again on next use)."""
    global _keyring
    _keyring = Keyring(keys) if keys is not None else None


class EncryptedText(TypeDecorator[str]):
    """A text column stored as a Fernet token."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        """Encrypt on the way in."""
        return None if value is None else keyring().encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        """Decrypt on the way out."""
        return None if value is None else keyring().decrypt(value)


class EncryptedJSON(TypeDecorator[Any]):
    """A JSON value stored as a Fernet token of its JSON text."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        """Serialize and encrypt on the way in."""
        return None if value is None else keyring().encrypt(json.dumps(value, ensure_ascii=False))

    def process_result_value(self, value: str | None, dialect: Dialect) -> Any:
        """Decrypt and parse on the way out."""
        return None if value is None else json.loads(keyring().decrypt(value))


@dataclass(frozen=True)
class EncryptedColumn:
    """Where one encrypted column lives: its table, the table's key column and the column."""

    table: str
    key: str
    column: str


def encrypted_columns() -> Iterator[EncryptedColumn]:
    """Every encrypted column of the models."""
    from db.models import Base

    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, EncryptedText | EncryptedJSON):
                [key] = [c.name for c in table.primary_key.columns]
                yield EncryptedColumn(table.name, key, column.name)


def rotate_column(connection: Connection, where: EncryptedColumn, ring: Keyring, *, batch: int = 500) -> int:
    """Re-encrypt every value of one column under the newest key; returns how many."""
    from sqlalchemy import column, table

    t = table(where.table, column(where.key), column(where.column, Text))
    done, last = 0, None
    while True:
        query = select(t.c[where.key], t.c[where.column]).order_by(t.c[where.key]).limit(batch)
        if last is not None:
            query = query.where(t.c[where.key] > last)
        rows = connection.execute(query).all()
        if not rows:
            return done
        for key, token in rows:
            if token is not None:
                connection.execute(
                    update(t).where(t.c[where.key] == key).values({where.column: ring.rotate(token)})
                )
                done += 1
        last = rows[-1][0]
