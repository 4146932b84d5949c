"""`huoli backup create | list | verify | restore | prune`: backups of the embedded stores (docs/reliability.md)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from huoli.backup import service
from huoli.cli_support import fail, guarded, load_settings, out

CLI_NAME = "backup"
cli = typer.Typer(
    help="Back up and restore the embedded stores (SQLite, DuckDB, the ingestion journal, the generated keys).",
    no_args_is_help=True,
)


T = TypeVar("T")


def _run(fn: Callable[[], T]) -> T:
    """`guarded`, plus the file-system and DuckDB failures a backup meets (full disk, permissions)."""
    import duckdb

    try:
        return guarded(fn)
    except OSError as exc:
        raise fail(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")) from None
    except duckdb.Error as exc:
        raise fail(f"DuckDB: {str(exc).splitlines()[0]}") from None


def _size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:,.0f} B" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1024
    return f"{size:,.1f} GiB"


@cli.command("create")
def create(
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="New or empty directory (default: <data_dir>/backups/<UTC time>)."),
    ] = None,
) -> None:
    """Back up this data directory's stores; stop `huoli serve` first (DuckDB has one process per file)."""

    settings = load_settings()
    backup = _run(lambda: service.create(settings, out=out_dir))
    m = backup.manifest
    events = m["events"]
    out.print(f"backup written to [bold]{backup.path}[/]", soft_wrap=True, highlight=False)
    out.print(
        f"{events['total']:,} events ({events['stored']:,} in DuckDB, {events['journal_pending']:,} only in the "
        f"journal), {sum(m['sqlite']['tables'].values()):,} rows in {len(m['sqlite']['tables'])} tables, "
        f"secret key: {m['secret_key']}, encryption key: {m['encryption_key']}; "
        f"{len(m['files'])} files, {_size(m['total_bytes'])}, in {m['seconds']:.1f} s"
    )


@cli.command("list")
def list_(
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Where the backups are (default: <data_dir>/backups).")
    ] = None,
) -> None:
    """List complete backups, oldest first."""
    from rich.table import Table

    root = directory or service.default_root(load_settings())
    backups = service.list_backups(root)
    if not backups:
        out.print(f"no backups in {root}", soft_wrap=True, highlight=False)
        return
    table = Table("backup", "created (UTC)", "events", "apps", "size", "huoli", title=str(root))
    for b in backups:
        table.add_row(
            b.path.name,
            b.created_at,
            f"{b.events:,}",
            str(len(b.manifest["events"]["by_app"])),
            _size(b.total_bytes),
            str(b.manifest.get("huoli_version", "?")),
        )
    out.print(table)


@cli.command("verify")
def verify(path: Annotated[Path, typer.Argument(help="A backup directory.")]) -> None:
    """Check every file of a backup against its manifest (size and SHA-256)."""

    backup = _run(lambda: service.verify(path))
    out.print(f"{backup.path}: {len(backup.manifest['files'])} files match the manifest", highlight=False)


@cli.command("restore")
def restore(
    path: Annotated[Path, typer.Argument(help="A backup directory (from `huoli backup create`).")],
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="New or empty data directory to restore into.")
    ],
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace the huoli stores of a non-empty data directory (its other files are kept).",
        ),
    ] = False,
) -> None:
    """Verify a backup's checksums, then restore it into a new data directory and check its counts."""

    settings = load_settings()
    done = _run(lambda: service.restore(path, data_dir, force=force, threads=settings.duckdb_threads))
    m = done.manifest
    out.print(f"restored {path} into [bold]{done.data_dir}[/] in {done.seconds:.1f} s", soft_wrap=True)
    out.print(
        f"{sum(done.events_by_app.values()):,} events ({done.replayed:,} loaded from the journal), "
        f"{sum(m['sqlite']['tables'].values()):,} operational rows: every count matches the backup"
    )
    if done.rollups_reset:
        out.print("analytics rollups were reset: the first analytics request rebuilds them from the events")
    if done.replaced:
        out.print(f"replaced: {', '.join(done.replaced)}", highlight=False)
    if m["secret_key"] == "settings":
        out.print(
            "the backed-up deployment set HUOLI_SECRET_KEY: set the same key, or sessions must log in again"
        )
    if m.get("encryption_key") == "settings":
        out.print("the backed-up deployment set HUOLI_ENCRYPTION_KEYS: set the same keys to read its secrets")
    hint = f"HUOLI_DATA_DIR={done.data_dir}"
    if m["source"]["custom_urls"]:
        hint += " (and unset HUOLI_DATABASE_URL / HUOLI_EVENT_STORE_URL, or point them at the restored files)"
    out.print(f"serve it with {hint} huoli serve", soft_wrap=True, highlight=False)


@cli.command("prune")
def prune(
    keep: Annotated[int, typer.Option("--keep", min=1, help="How many of the newest backups to keep.")],
    directory: Annotated[
        Path | None, typer.Option("--dir", help="Where the backups are (default: <data_dir>/backups).")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would be deleted.")] = False,
) -> None:
    """Delete all but the newest N backups (only directories with a huoli backup manifest)."""

    root = directory or service.default_root(load_settings())
    removed = _run(lambda: service.prune(root, keep=keep, dry_run=dry_run))
    verb = "would delete" if dry_run else "deleted"
    for b in removed:
        out.print(
            f"{verb} {b.path} ({b.created_at}, {_size(b.total_bytes)})", soft_wrap=True, highlight=False
        )
    left = len(service.list_backups(root)) - (len(removed) if dry_run else 0)
    out.print(f"{verb} {len(removed)} backup(s); {left} kept in {root}", soft_wrap=True, highlight=False)
