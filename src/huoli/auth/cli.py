"""`huoli auth prune`: drop the replay-protection and revocation rows that can no longer matter."""

from __future__ import annotations

import typer

from huoli.auth.jobs import prune_expired
from huoli.cli_support import database, out
from huoli.db import make_session_factory, unit_of_work
from huoli.runtime import system_clock

CLI_NAME = "auth"
cli = typer.Typer(help="Session tokens and signed server calls.", no_args_is_help=True)


@cli.command("prune")
def prune() -> None:
    """Delete expired session revocations and nonces past the signature window (run daily; safe beside
    `huoli serve`)."""

    with database() as (settings, engine, _keyring), unit_of_work(make_session_factory(engine)) as db:
        # The same function as the daily auth.prune job.
        done = prune_expired(db, now=system_clock(), settings=settings)
    out.print(f"pruned {done['revocations']:,} expired session revocations and {done['nonces']:,} old nonces")
