"""auth: secrets encrypted at rest; revocable session tokens

Widens the three secret columns for their encrypted form and encrypts the values already stored with the
keyring of the engine that runs the migration (every huoli code path attaches one: runtime.build_runtime and
`huoli migrate`). Run without one (a bare `alembic upgrade`), the values stay plaintext: they read as they are
and the next write or `huoli secrets rotate` encrypts them (crypto.py, docs/reliability.md#secrets).

Revision ID: auth_0001
Revises: 0001
Create Date: 2026-12-07 02:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import huoli.db
from huoli.crypto import PREFIX, keyring_of

revision: str = "auth_0001"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = ("auth",)
depends_on: str | Sequence[str] | None = None

# (table, primary key, column, label authenticated with each value: crypto.EncryptedString's)
SECRETS = (
    ("apps", "id", "wx_secret", "apps.wx_secret"),
    ("apps", "id", "server_secret", "apps.server_secret"),
    ("wx_session_keys", "user_id", "session_key", "wx_session_keys.session_key"),
)
BATCH = 1000


def _recode(encrypting: bool) -> None:
    """Encrypt the plaintext values (or decrypt the encrypted ones), in primary-key order, a batch at a time."""
    bind = op.get_bind()
    keyring = keyring_of(bind.dialect)
    for table_name, pk, column, label in SECRETS:
        table = sa.table(table_name, sa.column(pk, sa.String()), sa.column(column, sa.String()))
        rewrite = sa.update(table).where(table.c[pk] == sa.bindparam("k")).values({column: sa.bindparam("v")})
        last = None
        while True:
            stmt = sa.select(table.c[pk], table.c[column]).where(table.c[column].is_not(None))
            stmt = stmt.order_by(table.c[pk]).limit(BATCH)
            if last is not None:
                stmt = stmt.where(table.c[pk] > last)
            rows = bind.execute(stmt).all()
            if not rows:
                break
            last = rows[-1][0]
            todo = [(key, value) for key, value in rows if value.startswith(PREFIX) != encrypting]
            if not todo:
                continue
            if keyring is None:
                if encrypting:
                    return  # plaintext stays readable; `huoli secrets rotate` encrypts it later
                raise RuntimeError(
                    f"{table_name}.{column} holds encrypted values and this migration has no key to "
                    "decrypt them: run `huoli migrate --downgrade`, which brings the settings' keys"
                )
            recode = keyring.encrypt if encrypting else keyring.decrypt
            bind.execute(
                rewrite, [{"k": key, "v": recode(value, label)} for key, value in todo]
            )  # executemany


def upgrade() -> None:
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.alter_column(
            "wx_secret",
            existing_type=sa.String(length=128),
            type_=sa.String(length=512),
            existing_nullable=True,
        )
        batch_op.alter_column(
            "server_secret",
            existing_type=sa.String(length=128),
            type_=sa.String(length=512),
            existing_nullable=False,
        )
    with op.batch_alter_table("wx_session_keys", schema=None) as batch_op:
        batch_op.alter_column(
            "session_key",
            existing_type=sa.String(length=128),
            type_=sa.String(length=512),
            existing_nullable=False,
        )
    _recode(encrypting=True)

    op.create_table(
        "session_revocations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("jti", sa.String(length=64), nullable=True),
        sa.Column("revoked_at", huoli.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", huoli.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("app_id", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_revocations")),
        sa.UniqueConstraint("app_id", "jti", name="uq_session_revocations_app_jti"),
    )
    with op.batch_alter_table("session_revocations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_session_revocations_app_id"), ["app_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_session_revocations_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_session_revocations_revoked_at"), ["revoked_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("session_revocations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_session_revocations_revoked_at"))
        batch_op.drop_index(batch_op.f("ix_session_revocations_expires_at"))
        batch_op.drop_index(batch_op.f("ix_session_revocations_app_id"))
    op.drop_table("session_revocations")

    _recode(encrypting=False)
    with op.batch_alter_table("wx_session_keys", schema=None) as batch_op:
        batch_op.alter_column(
            "session_key",
            existing_type=sa.String(length=512),
            type_=sa.String(length=128),
            existing_nullable=False,
        )
    with op.batch_alter_table("apps", schema=None) as batch_op:
        batch_op.alter_column(
            "server_secret",
            existing_type=sa.String(length=512),
            type_=sa.String(length=128),
            existing_nullable=False,
        )
        batch_op.alter_column(
            "wx_secret",
            existing_type=sa.String(length=512),
            type_=sa.String(length=128),
            existing_nullable=True,
        )
