"""Schema migrations (Alembic), driven from Python so `huoli migrate`, the server and tests share one path."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, text


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "huoli:migrations")
    # ConfigParser interpolates %, and URL options (search_path=…) are percent-encoded.
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return cfg


def _unbounded_statements(conn: Connection) -> None:
    # A migration rewriting a big table may take longer than a request statement is allowed to.
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL statement_timeout = 0"))


def upgrade(engine: Engine, revision: str = "heads") -> None:
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        _unbounded_statements(conn)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        _unbounded_statements(conn)
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def current(engine: Engine) -> tuple[str, ...]:
    """Applied heads: each domain's migrations branch from the initial schema, so there may be several."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
