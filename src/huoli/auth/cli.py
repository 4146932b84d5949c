"""`huoli auth prune`: drop the replay-protection and revocation rows that can no longer matter.

huoli.cli's helpers are imported inside the command: huoli.cli imports this module while it loads.
"""

from __future__ import annotations

import typer

from huoli.auth import service
from huoli.db import make_session_factory, unit_of_work

CLI_NAME = "auth"
cli = typer.Typer(help="Session tokens and signed server calls.", no_args_is_help=True)


@cli.command("prune")
def prune() -> None:
    """Delete expired session revocations and nonces past the signature window (run daily; safe beside
    `huoli serve`)."""
    from huoli.cli import database, out
    from huoli.runtime import system_clock

    with database() as (settings, engine, _keyring), unit_of_work(make_session_factory(engine)) as db:
        now = system_clock()
        revocations = service.prune_revocations(db=db, now=now)
        # A signed timestamp may lead the server's clock by the skew too: a nonce matters for twice the skew.
        nonces = service.prune_nonces(db=db, older_than=now - 2 * settings.signature_skew)
    out.print(f"pruned {revocations:,} expired session revocations and {nonces:,} old nonces")
