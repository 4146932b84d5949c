"""Secrets at rest: AES-256-GCM under keys from the settings, applied by a column type.

Stored form: ``enc1:<key id>:<base64url(nonce ‖ ciphertext ‖ tag)>``. The key id names which of the
configured keys encrypted a value, so decryption needs no trial and `huoli secrets status` can tell how much
is still under an old key. Each column authenticates a fixed label as associated data, so a value copied into
another secret column does not decrypt. A stored value without the ``enc1:`` prefix is plaintext written before
encryption existed (or by an Alembic run without the key): it is read as is and encrypted by the next write or
by `huoli secrets rotate`.

The key reaches the column type through the engine, not a global: `attach` puts the runtime's keyring on its
engine's dialect (one dialect per engine), and `EncryptedString` reads it from the dialect SQLAlchemy hands to
every bind and result conversion. Two runtimes in one process (tests) keep their own keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import Engine, MetaData, String, Table, func, inspect, select, tuple_, type_coerce, update
from sqlalchemy.types import TypeDecorator

from huoli.errors import HuoliError

PREFIX = "enc1:"
KEY_BYTES = 32
NONCE_BYTES = 12
_DIALECT_ATTR = "huoli_keyring"


class EncryptionKeyError(HuoliError):
    """The keys configured cannot decrypt a stored value, or are not valid keys."""

    status_code = 500
    code = "encryption_key_error"


def generate_key() -> str:
    """A new key as HUOLI_ENCRYPTION_KEYS takes it: 32 random bytes, base64url."""
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode()


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def key_id(key: bytes) -> str:
    """8 hex characters naming a key; an HMAC under the key, so it tells nothing about the key itself."""
    return hmac.new(key, b"huoli encryption key id", hashlib.sha256).hexdigest()[:8]


@dataclass(frozen=True)
class Keyring:
    """The configured keys, newest first: encrypt with the first, decrypt with whichever a value names."""

    keys: tuple[tuple[str, AESGCM], ...]

    @classmethod
    def from_strings(cls, keys: Sequence[str]) -> Keyring:
        if not keys:
            raise EncryptionKeyError("no encryption key configured (HUOLI_ENCRYPTION_KEYS)")
        parsed = []
        for i, text in enumerate(keys, 1):
            try:
                raw = _b64decode(text.strip())
            except (binascii.Error, ValueError):
                raw = b""
            if len(raw) != KEY_BYTES:
                raise EncryptionKeyError(
                    f"encryption key #{i} is not 32 bytes in base64url (make one with `huoli secrets generate-key`)"
                )
            parsed.append((key_id(raw), AESGCM(raw)))
        ids = [kid for kid, _ in parsed]
        if len(set(ids)) != len(ids):
            raise EncryptionKeyError("the same encryption key is listed twice")
        return cls(tuple(parsed))

    @property
    def current_id(self) -> str:
        return self.keys[0][0]

    @property
    def ids(self) -> list[str]:
        return [kid for kid, _ in self.keys]

    def encrypt(self, plaintext: str, label: str) -> str:
        kid, aead = self.keys[0]
        nonce = os.urandom(NONCE_BYTES)  # random 96-bit nonces: safe far beyond the values huoli will write
        sealed = aead.encrypt(nonce, plaintext.encode(), label.encode())
        return f"{PREFIX}{kid}:{base64.urlsafe_b64encode(nonce + sealed).decode().rstrip('=')}"

    def decrypt(self, stored: str, label: str) -> str:
        if not stored.startswith(PREFIX):
            return stored  # plaintext from before encryption (see the module docstring)
        kid, _, body = stored[len(PREFIX) :].partition(":")
        aead = next((a for k, a in self.keys if k == kid), None)
        if aead is None:
            raise EncryptionKeyError(
                f"a {label} value is encrypted with key {kid}, which is not among the configured keys "
                f"({', '.join(self.ids)}): add it back to HUOLI_ENCRYPTION_KEYS (docs/reliability.md#secrets)"
            )
        try:
            blob = _b64decode(body)
            return aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], label.encode()).decode()
        except (InvalidTag, binascii.Error, ValueError):
            raise EncryptionKeyError(
                f"a {label} value fails its authentication check (altered or misplaced)"
            ) from None

    def is_current(self, stored: str) -> bool:
        """Whether a stored value is already encrypted with the newest key."""
        return stored.startswith(f"{PREFIX}{self.current_id}:")


def stored_key_id(stored: str) -> str | None:
    """The key id of a stored value, or None for plaintext."""
    return stored[len(PREFIX) :].partition(":")[0] if stored.startswith(PREFIX) else None


def attach(engine: Engine, keyring: Keyring) -> None:
    """Make `keyring` the one EncryptedString columns use on this engine (and its execution_options copies)."""
    setattr(engine.dialect, _DIALECT_ATTR, keyring)


def keyring_of(dialect: Any) -> Keyring | None:
    keyring: Keyring | None = getattr(dialect, _DIALECT_ATTR, None)
    return keyring


def _required(dialect: Any) -> Keyring:
    keyring = keyring_of(dialect)
    if keyring is None:
        raise RuntimeError(
            "encrypted column used on an engine without a keyring: make_engine(..., keyring=…)"
        )
    return keyring


class EncryptedString(TypeDecorator[str]):
    """A string column stored encrypted; code reads and writes plaintext. `label` is authenticated with each
    value: a fixed name, never changed once values exist (renaming the column does not require changing it).
    Values can't be compared in SQL (each encryption differs): look rows up by another column."""

    impl = String
    cache_ok = True

    def __init__(self, label: str, length: int = 512) -> None:
        # longer than 512 for values such as a PEM private key (about 1.7 KB, stored as 2.3 KB)
        super().__init__(length=length)
        self.label = label

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else _required(dialect).encrypt(value, self.label)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        if value is None or not value.startswith(PREFIX):
            return value
        return _required(dialect).decrypt(value, self.label)


def encrypted_columns(metadata: MetaData) -> list[tuple[Table, str, str]]:
    """(table, column name, label) of every EncryptedString column in the schema."""
    return [
        (table, column.name, column.type.label)
        for table in metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, EncryptedString)
    ]


def check_keys(engine: Engine, metadata: MetaData, keyring: Keyring) -> None:
    """Raise EncryptionKeyError if any stored secret is under a key the keyring lacks (run at start).

    Every EncryptedString column of `metadata` — found by type, so a new secret column is covered without
    being listed here — gets one query for a value whose key id is not configured: nothing is decrypted or
    read back unless one is found (a scan of the column, no transfer). A table not created yet (a database
    behind the code's migrations) holds nothing to check. The error names the column's label and the key.
    """
    with engine.connect().execution_options(huoli_read_only=True) as conn:  # no SQLite write lock
        present = set(inspect(conn).get_table_names())
        known = [f"{kid}:" for kid in keyring.ids]
        for table, column, label in encrypted_columns(metadata):
            if table.name not in present:
                continue
            raw = type_coerce(table.c[column], String)  # the stored text, not decrypted
            named = func.substr(raw, len(PREFIX) + 1, len(known[0]))  # "<key id>:"
            stmt = select(raw).where(raw.startswith(PREFIX), named.not_in(known)).limit(1)
            stored = conn.execute(stmt).scalar()
            if stored is not None:
                keyring.decrypt(stored, label)  # raises: "a <label> value is encrypted with key …"
                raise EncryptionKeyError(f"a {label} value names a key that is not configured")  # unreachable


def _batches(
    engine: Engine, table: Table, column: str, batch: int
) -> Iterator[list[tuple[tuple[Any, ...], str]]]:
    """(primary key, stored text) of the column's non-null values in primary-key order, `batch` at a time,
    each batch read in its own short read-only transaction (no lock or snapshot held across batches)."""
    pk = list(table.primary_key.columns)
    raw = type_coerce(table.c[column], String)  # the stored text, not decrypted
    last: tuple[Any, ...] | None = None
    while True:
        stmt = select(*pk, raw).where(table.c[column].is_not(None)).order_by(*pk).limit(batch)
        if last is not None:
            stmt = stmt.where(tuple_(*pk) > tuple_(*last))
        with engine.connect().execution_options(huoli_read_only=True) as conn:  # no SQLite write lock
            rows = conn.execute(stmt).all()
        if not rows:
            return
        yield [(tuple(r[: len(pk)]), r[-1]) for r in rows]
        last = tuple(rows[-1][: len(pk)])


def status(engine: Engine, metadata: MetaData) -> dict[str, dict[str, int]]:
    """Per column ("table.column"), how many values each key id holds ("plaintext" for unencrypted ones)."""
    out: dict[str, dict[str, int]] = {}
    for table, column, _label in encrypted_columns(metadata):
        counts: dict[str, int] = {}
        for rows in _batches(engine, table, column, 10_000):
            for _pk, stored in rows:
                kid = stored_key_id(stored) or "plaintext"
                counts[kid] = counts.get(kid, 0) + 1
        out[f"{table.name}.{column}"] = counts
    return out


def rotate(engine: Engine, keyring: Keyring, metadata: MetaData, *, batch: int = 1000) -> dict[str, int]:
    """Re-encrypt every value not under the newest key (plaintext included) with it; per column, how many.

    One transaction per batch, so a large table never holds its locks long; each UPDATE matches the value it
    read, so a value the application rewrote meanwhile (already under the newest key) is left alone.
    """
    done: dict[str, int] = {}
    for table, column, label in encrypted_columns(metadata):
        pk = list(table.primary_key.columns)
        raw = type_coerce(table.c[column], String)
        changed = 0
        for rows in _batches(engine, table, column, batch):
            stale = [(key, stored) for key, stored in rows if not keyring.is_current(stored)]
            if not stale:
                continue
            with engine.begin() as conn:
                for key, stored in stale:
                    fresh = keyring.encrypt(keyring.decrypt(stored, label), label)
                    stmt = (
                        update(table)
                        .where(*(c == v for c, v in zip(pk, key, strict=True)), raw == stored)
                        .values({column: type_coerce(fresh, String)})
                    )
                    changed += conn.execute(stmt).rowcount or 0
        done[f"{table.name}.{column}"] = changed
    return done
