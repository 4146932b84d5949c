"""`huoli catalog …`: import the shop's catalog from a CSV or JSON file (the same upsert as the signed call)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from huoli.cli_support import err, out, runtime

CLI_NAME = "catalog"
cli = typer.Typer(help="The product catalog: import items and categories from a file.", no_args_is_help=True)


def _bad(message: str) -> typer.Exit:
    """One line, never wrapped: a script or a person reads which row and field to fix."""
    from rich.markup import escape

    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(code=1)


@cli.command("import")
def import_file(
    file: Annotated[
        Path, typer.Argument(help="items.csv (one item a row) or catalog.json (see docs/catalog.md)")
    ],
    app_id: Annotated[str, typer.Option("--app", help="The app whose catalog this is.")],
) -> None:
    """Upsert the file's categories and items in one transaction: a bad row is named (row and field) and nothing
    is written. Idempotent: importing the same file again changes nothing. Runs beside `huoli serve`."""
    from huoli.catalog import importer, service
    from huoli.catalog.schemas import CategoriesBatchIn, ItemsBatchIn
    from huoli.errors import ValidationFailed
    from huoli.work import Caller, open_work

    try:
        parsed = importer.read(file)
    except importer.BadRow as exc:
        raise _bad(str(exc)) from None
    # the event store stays with the server: flips go to the outbox, which `huoli serve` relays
    with runtime(events=False) as rt:

        def run() -> dict[str, object]:
            with open_work(rt, app_id, Caller("cli")) as work:
                cats = None
                if parsed.categories:
                    cats = service.sync_categories(
                        work, CategoriesBatchIn.model_construct(categories=parsed.categories)
                    )
                result = service.sync_items(work, ItemsBatchIn.model_construct(items=parsed.items))
            return {
                "items": {
                    "created": result.created,
                    "updated": result.updated,
                    "unchanged": result.unchanged,
                },
                "categories": None if cats is None else {"created": cats.created, "updated": cats.updated},
                "became_unavailable": len(result.unavailable),
                "became_available": len(result.available),
            }

        try:
            summary = run()
        except ValidationFailed as exc:  # a rule across rows (the file was checked row by row): one line
            first = (exc.details or [{}])[0]
            at = importer.where(str(first.get("field", "")))
            raise _bad(f"{at}: {first.get('message', exc.message)}") from None
    out.print_json(json.dumps(summary, ensure_ascii=False))
