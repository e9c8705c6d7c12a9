"""``cllcds serve``, ``cllcds users``, ``cllcds audit`` and ``cllcds db``: run the service."""

from __future__ import annotations

import os
import sys
from typing import Annotated, Any

import typer

from cllcds import services as cs
from cllcds.domain import InputError
from cllcds.services import Actor
from cllcds.store import DATABASE_URL_ENV, Store, database_url

from ._output import Format, emit_json, emit_table
from ._workers import reuse_port_available, serve_workers

#: The uvicorn app factory (named by string: the CLI does not import the API adapter).
APP_FACTORY = "cllcds.api:app_from_env"
CLI_ACTOR = "cli"

DbOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help=f"SQLAlchemy URL (default: ${DATABASE_URL_ENV} or SQLite in $CLLCDS_DATA_DIR).",
    ),
]


def _actor() -> Actor:
    who = os.environ.get("USER") or os.environ.get("USERNAME") or "unknown"
    return Actor(f"{CLI_ACTOR}:{who}"[:64])


def _open(url: str | None) -> Store:
    return Store.open(url, migrate=True)


def register(app: typer.Typer) -> None:
    """Add ``serve``, ``users``, ``audit`` and ``db`` to ``app``."""

    @app.command("serve")
    def serve_cmd(
        host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8000,
        workers: Annotated[int, typer.Option(help="Worker processes.", min=1, max=64)] = 1,
        db_url: DbOpt = None,
        proxy_headers: Annotated[
            bool, typer.Option(help="Trust X-Forwarded-* (only behind your own proxy).")
        ] = False,
        forwarded_allow_ips: Annotated[
            str,
            typer.Option(
                help="With --proxy-headers: the proxy addresses trusted (comma list, or *).",
            ),
        ] = "127.0.0.1",
        access_log: Annotated[bool, typer.Option(help="Log every request.")] = True,
        demo: Annotated[
            bool,
            typer.Option(help="Seed demo accounts and patients and print the passwords."),
        ] = False,
    ) -> None:
        """Run the REST API (uvicorn). Migrates the database first."""
        import uvicorn  # noqa: PLC0415 - only this command needs the server

        url = database_url(db_url)
        os.environ[DATABASE_URL_ENV] = url  # the workers read it
        store = _open(url)
        try:
            if demo:
                from cllcds.web import seed_demo  # noqa: PLC0415 - only for --demo

                for name, password, role in seed_demo(store):
                    if password is None:
                        typer.echo(
                            f"demo user {name} ({role}) exists already: use the password printed "
                            "when it was made, or start afresh with another CLLCDS_DATA_DIR"
                        )
                    else:
                        typer.echo(f"demo user: {name} ({role}) password: {password}")
        finally:
            store.close()
        typer.echo(f"cllcds serving http://{host}:{port} (database {store.dialect})", err=True)
        if demo:
            typer.echo(f"Open http://{host}:{port}/app/ and sign in as demo with its password.")
        options: dict[str, Any] = {
            "proxy_headers": proxy_headers,
            # Behind a trusted proxy, X-Forwarded-Proto: https makes the cookies Secure and
            # X-Forwarded-For is the address sign-in throttling counts.
            "forwarded_allow_ips": forwarded_allow_ips if proxy_headers else "",
            "server_header": False,
            "access_log": access_log,
            "timeout_keep_alive": 5,
            "timeout_graceful_shutdown": 10,
            "log_level": "info",
        }
        if workers > 1 and reuse_port_available():
            # A listening socket per worker, so that connections are spread over the workers
            # (uvicorn's workers share one, and one of them takes most connections).
            raise typer.Exit(serve_workers(APP_FACTORY, host, port, workers, options))
        uvicorn.run(APP_FACTORY, factory=True, host=host, port=port, workers=workers, **options)

    users = typer.Typer(help="Manage accounts.", no_args_is_help=True)
    app.add_typer(users, name="users")

    @users.command("bootstrap-admin")
    def users_bootstrap_admin(
        username: Annotated[str, typer.Option(help="Name of the first admin.")] = "admin",
        db_url: DbOpt = None,
    ) -> None:
        """Create the first administrator and print its password once (nothing if an admin
        exists). The password is stored only as a hash: copy it now, change it after."""
        store = _open(db_url)
        try:
            made = cs.bootstrap_admin(store, _actor(), username)
        finally:
            store.close()
        if made is None:
            typer.echo("an admin account exists already: nothing created", err=True)
            raise typer.Exit(1)
        user, password = made
        typer.echo(f"created admin {user['username']}; password (shown once): {password}")

    @users.command("add")
    def users_add(
        username: str,
        role: Annotated[str, typer.Option(help="clinician, pharmacist, viewer or admin.")],
        password_stdin: Annotated[
            bool, typer.Option("--password-stdin", help="Read the password from stdin.")
        ] = False,
        db_url: DbOpt = None,
    ) -> None:
        """Create an account."""
        parsed = cs.parse_role(role)
        if password_stdin:
            password = sys.stdin.readline().rstrip("\r\n")
        else:
            password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
        store = _open(db_url)
        try:
            user = cs.add_user(store, username, password, parsed, _actor())
        finally:
            store.close()
        typer.echo(f"added {user['username']} ({user['role']})")

    @users.command("list")
    def users_list(
        db_url: DbOpt = None,
        fmt: Annotated[Format, typer.Option("--format", "-f", help="table or json.")] = (
            Format.TABLE
        ),
    ) -> None:
        """List accounts."""
        store = _open(db_url)
        try:
            rows = cs.list_users(store)
        finally:
            store.close()
        if fmt is Format.JSON:
            emit_json(rows)
            return
        emit_table(
            (
                [r["username"], r["role"], "yes" if r["disabled"] else "", r["created_at"]]
                for r in rows
            ),
            ["username", "role", "disabled", "created"],
        )

    @users.command("disable")
    def users_disable(username: str, db_url: DbOpt = None) -> None:
        """Disable an account (its tokens and sessions stop working at once)."""
        store = _open(db_url)
        try:
            cs.set_user_disabled(store, username, True, _actor())
        finally:
            store.close()
        typer.echo(f"disabled {username}")

    @users.command("enable")
    def users_enable(username: str, db_url: DbOpt = None) -> None:
        """Re-enable a disabled account (it signs in again; old tokens stay revoked)."""
        store = _open(db_url)
        try:
            cs.set_user_disabled(store, username, False, _actor())
        finally:
            store.close()
        typer.echo(f"enabled {username}")

    @users.command("teams")
    def users_teams(
        username: str,
        add: Annotated[list[str] | None, typer.Option("--add", help="Join this team.")] = None,
        remove: Annotated[
            list[str] | None, typer.Option("--remove", help="Leave this team.")
        ] = None,
        db_url: DbOpt = None,
    ) -> None:
        """Show an account's care teams, or change them (patients in no team are seen by all)."""
        store = _open(db_url)
        try:
            store.get_user(username)
            teams = store.user_teams(username)
            for team in add or []:
                teams = cs.set_team_member(store, team, username, True, _actor())
            for team in remove or []:
                teams = cs.set_team_member(store, team, username, False, _actor())
        finally:
            store.close()
        typer.echo(f"{username}: {', '.join(teams) or '(no team: sees patients in no team)'}")

    audit = typer.Typer(
        help="The audit log: a course's writes (--course), or verify the hash chain.",
        invoke_without_command=True,
    )
    app.add_typer(audit, name="audit")

    @audit.command("verify")
    def audit_verify(
        db_url: DbOpt = None,
        fmt: Annotated[Format, typer.Option("--format", "-f", help="table or json.")] = (
            Format.TABLE
        ),
    ) -> None:
        """Recompute the audit log's hash chain; exit 1 if an entry was changed, removed or
        inserted. Keep the printed head hash elsewhere to detect a truncated tail later."""
        store = _open(db_url)
        try:
            result = cs.verify_audit(store)
        finally:
            store.close()
        if fmt is Format.JSON:
            emit_json(result)
        else:
            verdict = "intact" if result["ok"] else "BROKEN"
            typer.echo(
                f"audit log {verdict}: {result['entries']} entries, {result['chained']} in the "
                f"hash chain, head {result['head']}"
            )
            for problem in result["problems"]:
                typer.echo(f"  {problem}", err=True)
        if not result["ok"]:
            raise typer.Exit(1)

    @audit.callback()
    def audit_cmd(
        ctx: typer.Context,
        course: Annotated[str | None, typer.Option("--course", help="Course id.")] = None,
        db_url: DbOpt = None,
        fmt: Annotated[Format, typer.Option("--format", "-f", help="table or json.")] = (
            Format.TABLE
        ),
    ) -> None:
        """Every write to a course: who, when, what, before and after."""
        if ctx.invoked_subcommand is not None:
            return
        if course is None:
            raise InputError("--course", None, "give a course id, or run `cllcds audit verify`")
        store = _open(db_url)
        try:
            items: list[dict[str, object]] = []
            offset: int | None = 0
            while offset is not None:
                page = cs.audit_log(store, course, None, 500, offset)
                items.extend(page.items)
                offset = page.next_offset
        finally:
            store.close()
        if fmt is Format.JSON:
            emit_json(items)
            return
        if fmt is Format.CSV:
            raise InputError("--format", "csv", "use table or json")
        emit_table(
            ([i["at"], i["actor"], i["action"], i["entity_id"], i["request_id"]] for i in items),
            ["when (UTC)", "who", "action", "what", "request"],
            title=f"Audit of course {course}",
        )

    db = typer.Typer(help="Database maintenance.", no_args_is_help=True)
    app.add_typer(db, name="db")

    @db.command("upgrade")
    def db_upgrade(db_url: DbOpt = None) -> None:
        """Apply the schema migrations (also done on every start)."""
        store = _open(db_url)
        store.close()
        typer.echo(f"database at the latest schema ({store.dialect})")
