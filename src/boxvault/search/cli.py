"""`boxvault recovery search`: item search for a member, by e-mail, as the API does it.

`search` is a plain function so the recovery CLI can register it in its group
(`app.command("search")(search)`); `app` runs it alone (tests, or before that wiring).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

app = typer.Typer(no_args_is_help=True, help="search backed-up items")


def _fail(message: str, code: int) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def search(
    task: Annotated[int, typer.Option("--task", help="task id")],
    email: Annotated[str, typer.Option("--email", help="act as this member of an account")],
    q: Annotated[str, typer.Option("--q", help='words of the path; "quoted words" form a phrase')] = "",
    author: Annotated[str, typer.Option("--author", help="creator's or modifier's name or login")] = "",
    name: Annotated[str, typer.Option("--name", help="prefixes of the words of the item's name")] = "",
    start: Annotated[str, typer.Option("--from", help="modified on or after YYYY-MM-DD")] = "",
    end: Annotated[str, typer.Option("--to", help="modified on or before YYYY-MM-DD")] = "",
    user: Annotated[str, typer.Option("--user", help="only this Box user's items")] = "",
    page: Annotated[int, typer.Option("--page", min=1)] = 1,
    page_size: Annotated[int, typer.Option("--page-size", min=1, max=200)] = 50,
    data: Annotated[
        Path | None,
        typer.Option("--data", help="data directory (default ./data or BOXVAULT_DATA)", show_default=False),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Backed-up item versions matching words, author, name and dates.

    Exit status 2: bad input, 3: no such user or task, 4: not allowed.
    """
    from boxvault.core import bootstrap

    bootstrap.setup(data)
    from django.contrib.auth import get_user_model
    from django.core.exceptions import PermissionDenied
    from django.http import Http404

    from boxvault.accounts.access import for_user
    from boxvault.core.operations import Operation
    from boxvault.search import services
    from boxvault.search.query import BadInput

    member = get_user_model().objects.filter(email__iexact=email.strip()).first()
    if member is None:
        _fail(f"no user with the e-mail {email!r}", 3)
    found: Any = None
    try:
        access = for_user(member, Operation.PREVIEW_DATA)
        found = services.search_items(
            access,
            services.task_for(access, task),
            q=q,
            author=author,
            name=name,
            date_from=start,
            date_to=end,
            box_user_id=user or None,
            limit=page_size,
            offset=(page - 1) * page_size,
        )
    except BadInput as exc:
        _fail(str(exc), 2)
    except Http404:
        _fail("no such task", 3)
    except PermissionDenied as exc:
        _fail(str(exc), 4)
    if as_json:
        doc = {"page": found.page, "page_size": found.page_size, "has_next": found.has_next}
        typer.echo(json.dumps({**doc, "results": found.results}, indent=2, default=str))
        return
    for r in found.results:
        when = r["modified_at"] or ""
        typer.echo(f"{r['snapshot'] or '-'}  {r['type']:<6} {r['size']:>12}  {when:<25.25} {r['path']}")
    if not found.results:
        typer.echo("no matching items")
    elif found.has_next:
        typer.echo(f"more: --page {page + 1}")


@app.callback()
def _group() -> None:
    """Keeps `search` a sub-command although it is the only one."""


app.command("search")(search)
