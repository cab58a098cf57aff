"""``lakeforge token create | list | revoke``: API tokens from the terminal.

Whoever reaches the metadata store is a local admin (see ``commands/cli.py``), so these commands
are the token administration; each change writes a ``command_audit`` row (surface ``cli``, kind
``create_token`` or ``revoke_token``) naming the token by its prefix, never by value or hash.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from lakeforge.commands import access
from lakeforge.commands.cli import _fail, _local_user, _open, err_console
from lakeforge.commands.envelope import Actor
from lakeforge.errors import LakeForgeError
from lakeforge.metadata.models import Role
from lakeforge.terminal import make_console

console = make_console()
token_app = typer.Typer(
    no_args_is_help=True,
    help="API tokens: create (shown once, stored hashed), list, revoke. Every change is audited.",
)


def _actor() -> Actor:
    return Actor(user=_local_user(), surface="cli")


def _when(moment: datetime | None, never: str = "") -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if moment is not None else never


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Option("--user", help="LakeForge user name (created if missing).")],
    role: Annotated[Role, typer.Option("--role", help="viewer, operator, editor or admin.")],
    group: Annotated[str | None, typer.Option("--group", help="Bind the role to one group only.")] = None,
    name: Annotated[
        str | None,
        typer.Option("--name", help="What the token is for, as `token list` shows it (default ROLE@GROUP)."),
    ] = None,
    expires_in: Annotated[
        str,
        typer.Option("--expires-in", help="Lifetime: hours, days or weeks (36h, 90d, 12w), or never."),
    ] = "never",
) -> None:
    """Create an API token and print it once; only its SHA-256 is stored.

    The role is bound to the user (globally, or on --group); the token signs in as that user.
    Tokens never expire unless --expires-in says so.

    Examples:

      lakeforge token create --user ci --role operator --name github-actions --expires-in 90d
      TOKEN=$(lakeforge token create --user ana --role editor --group retail)
    """
    lifetime = access.parse_lifetime(expires_in)  # checked before the store is opened
    with _open() as db:
        token = access.create_token(db, user, role, group, name=name, expires_in=lifetime, actor=_actor())
        row = access.describe_token(db, token)
    scope = f"group {group}" if group else "every group"
    expiry = f"expires {_when(row['expires_at'])} UTC" if row["expires_at"] else "never expires"
    # The words go to stderr and only the token to stdout: TOKEN=$(lakeforge token create ...) works.
    err_console.print(
        f"Token {row['prefix']} ({escape(row['name'])}) for [bold]{user}[/] as {role} on {scope}; "
        f"{expiry} (shown once, keep it safe):",
        highlight=False,
        soft_wrap=True,
    )
    print(token)


@token_app.command("list")
def token_list(
    user: Annotated[str | None, typer.Option("--user", help="Only this user's tokens.")] = None,
    everything: Annotated[bool, typer.Option("--all", help="Also revoked and expired tokens.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rows as JSON.")] = False,
) -> None:
    """Tokens, newest first, by prefix: never the token or its hash.

    Examples:

      lakeforge token list
      lakeforge token list --user ci --all
    """
    with _open() as db:
        rows = access.list_tokens(db, user, everything=everything)
    if as_json:
        print(json.dumps(rows, default=str))
        return
    table = Table(title=f"{len(rows)} token(s)", title_justify="left")
    for column in (
        "id",
        "prefix",
        "name",
        "user",
        "roles",
        "created (UTC)",
        "expires",
        "last used",
        "status",
    ):
        table.add_column(column, justify="right" if column == "id" else "left")
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["prefix"],
            Text(row["name"] or ""),
            row["user"],
            Text(", ".join(row["bindings"]) or "(none: read only)"),
            _when(row["created_at"]),
            _when(row["expires_at"], "never"),
            _when(row["last_used_at"], "never"),
            _status(row),
        )
    console.print(table)
    if not rows and not everything:
        console.print("No live token. `lakeforge token list --all` shows revoked and expired ones too.")


def _status(row: dict[str, Any]) -> Text:
    if row["status"] == "revoked":
        return Text(f"revoked {_when(row['revoked_at'])}", style="red")
    return Text(row["status"], style="yellow" if row["status"] == "expired" else "green")


@token_app.command("revoke")
def token_revoke(
    token: Annotated[
        str | None,
        typer.Argument(
            help="The token's id or prefix (lf_AbC12) as `token list` shows it.", show_default=False
        ),
    ] = None,
    user: Annotated[str | None, typer.Option("--user", help="Revoke every token of this user.")] = None,
) -> None:
    """Revoke one token (by id or prefix) or every token of a user; the API refuses it from then on.

    The user's roles stay: a new token for them works again. The API may accept a revoked token
    for LAKEFORGE_API_TOKEN_CACHE_SECONDS more (5 s by default).

    Examples:

      lakeforge token revoke lf_AbC12
      lakeforge token revoke --user ci
    """
    if (token is None) == (user is None):
        _fail(
            LakeForgeError(
                "give one token (its id or prefix) or --user, not both nor neither",
                field="token",
                fix="`lakeforge token list` shows the ids and prefixes.",
            ),
            code=2,
        )
    with _open() as db:
        if user is not None:
            count = access.revoke_tokens(db, user, actor=_actor())
            console.print(f"{count} token(s) of {user} revoked." if count else f"{user} had no live token.")
            return
        assert token is not None
        row = access.revoke_token(db, token, actor=_actor())
    said = f"Token {row['id']} ({row['prefix']}, {row['name']}) of {row['user']}"
    if row["revoked_now"]:
        console.print(Text(f"{said} revoked."))
    else:
        console.print(
            Text(f"{said} was revoked already, on {_when(row['revoked_at'])} UTC; nothing changed.")
        )


def register(app: typer.Typer) -> None:
    app.add_typer(token_app, name="token")
