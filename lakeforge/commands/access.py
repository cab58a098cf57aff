"""Who may do what: users, roles bound globally or per group, and hashed API tokens.

Roles are ordered: viewer < operator < editor < admin. ``REQUIRED_ROLE`` (data, not code)
says which role each intent needs; a binding on a group grants that role for that group only.
Everyone may read (unknown and unmapped Slack users included); changing anything needs a binding.

>>> token = create_token(db, "ana", "editor", group="retail")   # shown once, stored hashed
>>> principal = authenticate_token(db, token)
>>> principal.may("update_source", {"retail"})
True
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from lakeforge import suggest
from lakeforge.commands.envelope import Actor
from lakeforge.commands.state import group_names
from lakeforge.errors import LakeForgeError
from lakeforge.metadata.db import Connection, Database
from lakeforge.metadata.models import Role

ROLES: tuple[Role, ...] = ("viewer", "operator", "editor", "admin")
_RANK = {role: index for index, role in enumerate(ROLES)}
TOKEN_PREFIX = "lf_"  # noqa: S105 - a public prefix, not a secret

# The role matrix. Read-only intents need "viewer", which everyone has.
REQUIRED_ROLE: dict[str, Role] = {
    "show_source": "viewer",
    "show_group": "viewer",
    "list_sources": "viewer",
    "show_quarantine": "viewer",
    "list_runs": "viewer",
    "show_run": "viewer",
    "help": "viewer",
    "run_now": "operator",
    "rerun_batch": "operator",
    "cancel_run": "operator",
    "pause_schedule": "operator",
    "resume_schedule": "operator",
    "register_source": "editor",
    "update_source": "editor",
    "remove_source": "editor",
    "create_group": "editor",
    "update_group": "editor",
    "set_schedule": "editor",
    "add_dq_rule": "editor",
    "update_dq_rule": "editor",
    "remove_dq_rule": "editor",
    "subscribe_channel": "editor",
    "restore_revision": "editor",
    "upsert_system": "editor",
    "upsert_gold": "editor",
    "remove_gold": "editor",
    "upsert_compute_profile": "admin",
    "sync_jobs": "admin",
}


class PermissionDenied(LakeForgeError):
    """The caller's roles do not allow this command (HTTP 403).

    ``command_id`` names the audit row of the refused command, once the executor has written it.
    """

    command_id: UUID | None = None


class AuthenticationFailed(LakeForgeError):
    """Missing, unknown, expired or revoked token (HTTP 401)."""


# Intents that touch no existing group, so only a global binding allows them (a per-group
# binding never does, whatever its role).
GLOBAL_KINDS = frozenset({"create_group", "upsert_system", "upsert_compute_profile", "sync_jobs"})


@dataclass(frozen=True)
class Principal:
    """An authenticated caller and its role bindings: (role, group name or None for every group)."""

    user: str
    user_id: int | None = None
    bindings: tuple[tuple[Role, str | None], ...] = field(default_factory=tuple)

    @classmethod
    def local_admin(cls, user: str = "local") -> Principal:
        """The operator at the command line: whoever can reach the database directly is admin."""
        return cls(user=user, bindings=(("admin", None),))

    def role_for(self, group: str | None) -> Role | None:
        """The strongest role that holds for ``group`` (None: only global bindings count)."""
        best: Role | None = None
        for role, scope in self.bindings:
            applies = scope is None or (group is not None and scope == group)
            if applies and (best is None or _RANK[role] > _RANK[best]):
                best = role
        return best

    def may(self, kind: str, groups: set[str] | None = None) -> bool:
        """Whether this caller may run ``kind`` on every group in ``groups`` (empty: needs a global role)."""
        needed = REQUIRED_ROLE.get(kind, "admin")
        if needed == "viewer":
            return True
        scopes: list[str | None] = list(groups) if groups else [None]
        for scope in scopes:
            role = self.role_for(scope)
            if role is None or _RANK[role] < _RANK[needed]:
                return False
        return True

    def global_kinds(self) -> list[str]:
        """Intents this caller may run on every group (a global binding)."""
        return [kind for kind in REQUIRED_ROLE if self.may(kind)]

    def group_kinds(self) -> dict[str, list[str]]:
        """For each group bound by name, the intents this caller may run on it."""
        groups = sorted({scope for _, scope in self.bindings if scope is not None})
        return {
            group: [kind for kind in REQUIRED_ROLE if kind not in GLOBAL_KINDS and self.may(kind, {group})]
            for group in groups
        }

    def readable_groups(self) -> frozenset[str] | None:
        """The groups whose sources and quarantined rows this caller sees; None for every group.

        A caller bound only to some groups sees those; a global binding sees all. A caller with
        no binding at all (an unmapped Slack user) keeps the "everyone may read" default.
        """
        if not self.bindings or any(scope is None for _, scope in self.bindings):
            return None
        return frozenset(scope for _, scope in self.bindings if scope is not None)

    def may_read(self, group: str) -> bool:
        """Whether this caller sees ``group``'s sources and quarantined rows."""
        groups = self.readable_groups()
        return groups is None or group in groups

    def may_somewhere(self, kind: str) -> bool:
        """Whether this caller may run ``kind`` globally or on at least one group it is bound to."""
        groups = {scope for _, scope in self.bindings if scope is not None}
        return self.may(kind) or (kind not in GLOBAL_KINDS and any(self.may(kind, {g}) for g in groups))

    def suggestion_groups(self, kind: str) -> frozenset[str] | None:
        """The groups whose names, and whose sources' names, an error about ``kind`` may suggest
        for a mistyped name; None means every group.

        Only groups the caller holds a binding on that allows ``kind`` (every group with such a
        global binding): a suggestion is a name the caller could have sent instead, and it must
        never tell a group-bound caller what another group holds. A caller without bindings
        gets no suggestions of sources or groups.
        """
        if self.role_for(None) is not None and self.may(kind):
            return None
        return frozenset(group for _, group in self.bindings if group is not None and self.may(kind, {group}))

    def allowed_kinds(self) -> list[str]:
        """Intents this caller may run somewhere (globally or on at least one group)."""
        return [kind for kind in REQUIRED_ROLE if self.may_somewhere(kind)]


def kinds_for_role(role: Role) -> list[str]:
    """Intents a role allows (the matrix as a list, for docs and tests)."""
    return [kind for kind, needed in REQUIRED_ROLE.items() if _RANK[role] >= _RANK[needed]]


def check(principal: Principal, kind: str, groups: set[str] | None = None) -> None:
    """Raise ``PermissionDenied`` naming the role needed, unless ``principal`` may run ``kind``."""
    if principal.may(kind, groups):
        return
    where = f" on group {', '.join(sorted(groups))}" if groups else " (a global binding)"
    raise _denied(principal, kind, where, f" --group {sorted(groups)[0]}" if groups else "")


def check_somewhere(principal: Principal, kind: str) -> None:
    """Raise ``PermissionDenied`` unless ``principal`` may run ``kind`` on some group (or on all).

    For an intent naming what exists nowhere (a batch id no batch has): it belongs to no group, so
    whoever could run the kind on any group may hear that it does not exist; a role that can never
    run the kind is still refused.
    """
    if principal.may_somewhere(kind):
        return
    raise _denied(principal, kind, " on a group or globally", " [--group GROUP]")


def check_readable(principal: Principal, kind: str, group: str | None) -> None:
    """Raise ``PermissionDenied`` unless ``principal`` sees ``group`` (None: something unknown,
    which a group-bound caller must not learn about either)."""
    if principal.readable_groups() is None or (group is not None and principal.may_read(group)):
        return
    where = f" on group {group}" if group else " on the group it names"
    raise PermissionDenied(
        f"{principal.user} may not {kind.replace('_', ' ')}: it needs a role{where}",
        field="kind",
        fix=f"Ask an admin: lakeforge token create --user {principal.user} --role viewer --group "
        + (group or "GROUP"),
    )


def _denied(principal: Principal, kind: str, where: str, group_option: str) -> PermissionDenied:
    needed = REQUIRED_ROLE.get(kind, "admin")
    return PermissionDenied(
        f"{principal.user} may not {kind.replace('_', ' ')}: it needs the {needed} role{where}",
        field="kind",
        fix=f"Ask an admin: lakeforge token create --user {principal.user} --role {needed}{group_option}",
    )


# -- loading principals ------------------------------------------------------------------------
def _bindings(conn: Connection, user_id: int) -> tuple[tuple[Role, str | None], ...]:
    rows = conn.execute(
        "SELECT b.role, g.name AS group_name FROM role_binding b "
        "LEFT JOIN source_group g ON g.id = b.source_group_id WHERE b.user_id = %s ORDER BY b.id",
        [user_id],
    ).fetchall()
    return tuple((row["role"], row["group_name"]) for row in rows)


def principal_from_conn(conn: Connection, user: str) -> Principal:
    """The principal for a user name; unknown or disabled users get no bindings (read only)."""
    row = conn.execute("SELECT id, disabled FROM app_user WHERE name = %s", [user]).fetchone()
    if row is None or row["disabled"]:
        return Principal(user=user)
    return Principal(user=user, user_id=row["id"], bindings=_bindings(conn, row["id"]))


def load_principal(db: Database, user: str) -> Principal:
    with db.connection() as conn:
        return principal_from_conn(conn, user)


def principal_for_slack(db: Database, slack_user_id: str) -> Principal:
    """The LakeForge user mapped to a Slack user (``app_user.slack_user_id``); unmapped: read only."""
    with db.connection() as conn:
        row = conn.execute(
            "SELECT name FROM app_user WHERE slack_user_id = %s AND NOT disabled", [slack_user_id]
        ).fetchone()
        if row is None:
            return Principal(user=f"slack_{slack_user_id.lower()}")
        return principal_from_conn(conn, row["name"])


# -- users, bindings, tokens -------------------------------------------------------------------
def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def ensure_user(conn: Connection, user: str, **details: Any) -> int:
    row = conn.execute(
        "INSERT INTO app_user (name, display_name, email, slack_user_id) VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id",
        [user, details.get("display_name"), details.get("email"), details.get("slack_user_id")],
    ).fetchone()
    assert row is not None
    return int(row["id"])


def grant(conn: Connection, user: str, role: Role, group: str | None = None) -> None:
    """Bind ``role`` to ``user`` globally or on one group (creating the user if needed)."""
    if role not in ROLES:
        raise LakeForgeError(f"unknown role {role!r}", field="role", fix=f"Use one of {', '.join(ROLES)}.")
    user_id = ensure_user(conn, user)
    group_id = None
    if group is not None:
        row = conn.execute("SELECT id FROM source_group WHERE name = %s", [group]).fetchone()
        if row is None:
            # Only the command line grants (as a local admin, who sees every group).
            raise LakeForgeError(
                f"group {group!r} does not exist",
                field="group",
                fix=suggest.did_you_mean(
                    group, group_names(conn, None), "Create the group first, or omit --group."
                ),
            )
        group_id = row["id"]
    conn.execute(
        "INSERT INTO role_binding (user_id, role, source_group_id) VALUES (%s, %s, %s) "
        "ON CONFLICT ON CONSTRAINT role_binding_key DO NOTHING",
        [user_id, role, group_id],
    )


def create_token(
    db: Database,
    user: str,
    role: Role,
    group: str | None = None,
    *,
    name: str | None = None,
    expires_in: timedelta | None = None,
    actor: Actor | None = None,
) -> str:
    """A new API token for ``user`` with ``role`` (global or on ``group``); returned once, stored hashed.

    ``expires_in`` limits its life (None: it never expires). With ``actor`` the creation is
    audited (``command_audit`` kind ``create_token``), naming the token by its prefix only.
    """
    if not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", user or ""):
        raise LakeForgeError(
            f"user name {user!r} is not a slug",
            field="user",
            fix="Use lower-case letters, digits and underscores, starting with a letter.",
        )
    if expires_in is not None and expires_in <= timedelta(0):
        raise LakeForgeError(
            "the expiry must lie in the future", field="expires_in", fix="Give e.g. 90d, 12w or 36h."
        )
    if name is not None and not name.strip():
        raise LakeForgeError("the token name is empty", field="name", fix="Give a name, or leave it out.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    label = name.strip() if name else f"{role}{'@' + group if group else ''}"
    with db.connection() as conn, conn.transaction():
        grant(conn, user, role, group)
        user_id = ensure_user(conn, user)
        row = conn.execute(
            "INSERT INTO api_token (user_id, token_hash, token_prefix, name, expires_at) "
            "VALUES (%s, %s, %s, %s, now() + %s) RETURNING id, expires_at",
            [user_id, hash_token(token), token[:8], label, expires_in],
        ).fetchone()
        assert row is not None
        if actor is not None:
            # "prefix", not "token_prefix": the audit redacts any key that names a token.
            details = {"user": user, "role": role, "group": group, "name": label}
            details |= {"id": row["id"], "prefix": token[:8], "expires_at": _iso(row["expires_at"])}
            _audit(conn, actor, "create_token", details, f"Token {token[:8]} created for {user}.")
    return token


def authenticate_token(db: Database, token: str | None) -> Principal:
    """The principal behind a bearer token, or ``AuthenticationFailed`` (never says which part was wrong)."""
    if not token or not token.startswith(TOKEN_PREFIX):
        raise AuthenticationFailed(
            "missing or malformed API token",
            field="Authorization",
            fix="Send 'Authorization: Bearer lf_...'; create one with lakeforge token create.",
        )
    with db.connection() as conn:
        row = conn.execute(
            "SELECT t.id, t.user_id, u.name, "
            "(t.last_used_at IS NULL OR t.last_used_at < now() - interval '1 minute') AS stale "
            "FROM api_token t JOIN app_user u ON u.id = t.user_id "
            "WHERE t.token_hash = %s AND t.revoked_at IS NULL AND NOT u.disabled "
            "AND (t.expires_at IS NULL OR t.expires_at > now())",
            [hash_token(token)],
        ).fetchone()
        if row is None:
            raise AuthenticationFailed(
                "unknown, expired or revoked API token",
                field="Authorization",
                fix="Create a new token with lakeforge token create.",
            )
        if row["stale"]:  # one write a minute at most, so reads stay reads
            conn.execute("UPDATE api_token SET last_used_at = now() WHERE id = %s", [row["id"]])
        return Principal(user=row["name"], user_id=row["user_id"], bindings=_bindings(conn, row["user_id"]))


def revoke_tokens(db: Database, user: str, *, actor: Actor | None = None) -> int:
    """Revoke every live token of ``user``; how many were revoked (0: none was live).

    With ``actor`` an unknown user is an error naming the closest user, and the revocation is
    audited (``revoke_token``, one row naming the prefixes).
    """
    with db.connection() as conn, conn.transaction():
        if actor is not None:
            _require_user(conn, user)
        rows = conn.execute(
            "UPDATE api_token SET revoked_at = now() WHERE revoked_at IS NULL "
            "AND user_id = (SELECT id FROM app_user WHERE name = %s) RETURNING id, token_prefix",
            [user],
        ).fetchall()
        if actor is not None:
            prefixes = sorted(row["token_prefix"] for row in rows)
            details = {"user": user, "ids": sorted(row["id"] for row in rows), "prefixes": prefixes}
            _audit(conn, actor, "revoke_token", details, f"{len(rows)} token(s) of {user} revoked.")
        return len(rows)


def revoke_token(db: Database, ref: str, *, actor: Actor | None = None) -> dict[str, Any]:
    """Revoke the one token ``ref`` names (id, prefix, or the whole token); its listing row.

    Unknown: an error with the closest prefix. Several live tokens match: an error listing them.
    A token revoked already stays as it is (``revoked_at`` tells when).
    """
    with db.connection() as conn, conn.transaction():
        row = _find_token(conn, ref)
        if row["revoked_at"] is None:
            conn.execute("UPDATE api_token SET revoked_at = now() WHERE id = %s", [row["id"]])
            if actor is not None:
                details = {"user": row["user"], "id": row["id"], "prefix": row["prefix"], "name": row["name"]}
                _audit(
                    conn, actor, "revoke_token", details, f"Token {row['prefix']} of {row['user']} revoked."
                )
            row = _token_rows(conn, "t.id = %s", [row["id"]])[0]
            row["revoked_now"] = True
        else:
            row["revoked_now"] = False
        return row


def list_tokens(db: Database, user: str | None = None, *, everything: bool = False) -> list[dict[str, Any]]:
    """Tokens newest first, without hash or value: live ones only unless ``everything``.

    Each row: id, prefix, name, user, bindings (the user's roles: ``editor`` or ``editor@retail``),
    created_at, expires_at, last_used_at, revoked_at and status (active, expired or revoked).
    """
    with db.connection() as conn:
        if user is not None:
            _require_user(conn, user)
        where = ["(%s::text IS NULL OR u.name = %s)"]
        if not everything:
            where.append("t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > now())")
        return _token_rows(conn, " AND ".join(where), [user, user])


def describe_token(db: Database, token: str) -> dict[str, Any]:
    """The listing row of ``token`` (a value just created), found by its hash."""
    with db.connection() as conn:
        return _token_rows(conn, "t.token_hash = %s", [hash_token(token)])[0]


def parse_lifetime(text: str) -> timedelta | None:
    """A token lifetime: ``90d``, ``12w``, ``36h`` (or ``never``: None)."""
    value = text.strip().lower()
    if value == "never":
        return None
    match = _LIFETIME.fullmatch(value)
    if match is None or int(match[1]) == 0:
        raise LakeForgeError(
            f"{text!r} is not a lifetime",
            field="--expires-in",
            fix="Give a number of hours, days or weeks: 36h, 90d, 12w (or never).",
        )
    return timedelta(**{_LIFETIME_UNITS[match[2]]: int(match[1])})


_LIFETIME = re.compile(r"(\d{1,5})\s*([hdw])")
_LIFETIME_UNITS = {"h": "hours", "d": "days", "w": "weeks"}


def _token_rows(conn: Connection, where: str, params: list[Any]) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT t.id, t.token_prefix AS prefix, t.name, u.name AS user, u.id AS user_id, t.created_at, "
        "t.expires_at, t.last_used_at, t.revoked_at, "
        "CASE WHEN t.revoked_at IS NOT NULL THEN 'revoked' "
        "WHEN t.expires_at IS NOT NULL AND t.expires_at <= now() THEN 'expired' ELSE 'active' END AS status "
        f"FROM api_token t JOIN app_user u ON u.id = t.user_id WHERE {where} "
        "ORDER BY t.created_at DESC, t.id DESC",
        params,
    ).fetchall()
    out = []
    for row in rows:
        item = dict(row)
        bindings = _bindings(conn, item.pop("user_id"))
        item["bindings"] = [role + (f"@{group}" if group else "") for role, group in bindings]
        out.append(item)
    return out


def _find_token(conn: Connection, ref: str) -> dict[str, Any]:
    """The token ``ref`` names: a numeric id, a prefix (``lf_AbC12``, or fewer characters) or a
    whole token pasted from where it leaked (matched by its hash, never stored or echoed)."""
    ref = ref.strip()
    if ref.isdigit():
        found = _token_rows(conn, "t.id = %s", [int(ref)])
    elif ref.startswith(TOKEN_PREFIX) and len(ref) > _PREFIX_LENGTH:
        found = _token_rows(conn, "t.token_hash = %s", [hash_token(ref)])
        if not found:
            raise LakeForgeError(
                "no token is that value (unknown, or not a LakeForge token)",
                field="token",
                fix="List tokens with `lakeforge token list --all` and revoke one by its prefix or id.",
            )
    else:
        found = _token_rows(conn, "t.token_prefix LIKE %s", [_like_prefix(ref)])
        live = [row for row in found if row["revoked_at"] is None]
        found = live or found  # a prefix that names one live token and older revoked ones means that one
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        listed = "; ".join(
            f"{row['id']} ({row['prefix']}, {row['name']}, {row['user']})" for row in found[:10]
        )
        raise LakeForgeError(
            f"{ref!r} matches {len(found)} tokens: {listed}",
            field="token",
            fix="Give the id, or more of the prefix.",
        )
    prefixes = [row["token_prefix"] for row in conn.execute("SELECT token_prefix FROM api_token").fetchall()]
    raise LakeForgeError(
        f"no token has the id or prefix {ref!r}",
        field="token",
        fix=suggest.did_you_mean(ref, prefixes, "List tokens with `lakeforge token list --all`."),
    )


_PREFIX_LENGTH = 8  # characters of each token kept as api_token.token_prefix


def _like_prefix(ref: str) -> str:
    return ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _require_user(conn: Connection, user: str) -> None:
    if conn.execute("SELECT 1 FROM app_user WHERE name = %s", [user]).fetchone() is None:
        names = [row["name"] for row in conn.execute("SELECT name FROM app_user").fetchall()]
        raise LakeForgeError(
            f"user {user!r} does not exist",
            field="--user",
            fix=suggest.did_you_mean(user, names, "List users' tokens with `lakeforge token list --all`."),
        )


def _audit(conn: Connection, actor: Actor, kind: str, details: dict[str, Any], message: str) -> None:
    """A token change as an applied ``command_audit`` row, in the change's own transaction."""
    from lakeforge.commands.executor import audit_applied  # the executor imports this module

    audit_applied(conn, actor, {"kind": kind, **details}, message)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
