"""`huoli loyalty …`: member ledger lookup and the loyalty jobs (for cron / systemd timers)."""

from __future__ import annotations

from typing import Annotated

import typer

from huoli.cli_support import guarded, out, runtime
from huoli.db import unit_of_work
from huoli.loyalty import ledger, service
from huoli.loyalty.context import make_ctx

CLI_NAME = "loyalty"
cli = typer.Typer(
    help="Loyalty: member ledgers and jobs (expire, warn-expiring, tiers, scan-tasks).", no_args_is_help=True
)

AppOpt = Annotated[str, typer.Option("--app", help="App id.")]


@cli.command("ledger")
def ledger_cmd(
    app_id: AppOpt,
    user: Annotated[str, typer.Option("--user", help="Member user id.")],
    limit: Annotated[int, typer.Option(help="Transfers to show (newest first).")] = 50,
) -> None:
    """A member's balance and latest transfers."""
    from rich.table import Table

    with runtime(events=False) as rt:

        def run() -> None:
            with unit_of_work(rt.sessions, app_id=app_id) as db:
                ctx = make_ctx(db, app_id=app_id, now=rt.clock(), settings=rt.settings)
                b = ledger.balance(db, ctx, user)
                out.print(
                    f"available {b.available}  pending {b.pending}  debt {b.debt}  "
                    f"expiring by {b.expiring_soon_before:%Y-%m-%d} {b.expiring_soon}"
                )
                table = Table("id", "date", "kind", "reason", "points", "key", "ref")
                for t in ledger.history(db, user_id=user, limit=limit):
                    table.add_row(
                        str(t.id),
                        str(t.local_date),
                        t.kind,
                        t.reason,
                        str(t.points),
                        t.business_key,
                        t.ref or "",
                    )
                out.print(table)

        guarded(run)


@cli.command("job")
def job_cmd(
    job: Annotated[str, typer.Argument(help="expire | warn-expiring | tiers | scan-tasks")],
    app_id: AppOpt,
) -> None:
    """Run one loyalty job now; each is idempotent and safe next to live traffic."""

    with runtime() as rt:

        def run() -> None:
            with unit_of_work(rt.sessions, app_id=app_id) as db:
                ctx = make_ctx(db, app_id=app_id, now=rt.clock(), settings=rt.settings)
                result = service.run_job(db, ctx, job=job, store=rt.store)
            out.print_json(data=result)

        guarded(run)


@cli.command("adjust")
def adjust_cmd(
    app_id: AppOpt,
    user: Annotated[str, typer.Option("--user")],
    points: Annotated[int, typer.Option(help="Positive grants, negative deducts.")],
    key: Annotated[str, typer.Option(help="Idempotency key: re-running with it changes nothing.")],
    note: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Grant or deduct points by hand (recorded as reason=admin)."""

    with runtime(events=False) as rt:

        def run() -> None:
            with unit_of_work(rt.sessions, app_id=app_id) as db:
                ctx = make_ctx(db, app_id=app_id, now=rt.clock(), settings=rt.settings)
                ledger.adjust(
                    db, ctx, user_id=user, points=points, key=f"admin:{key}", note=note, expires_at=None
                )
                out.print(f"balance {ledger.balance(db, ctx, user).available}")

        guarded(run)
