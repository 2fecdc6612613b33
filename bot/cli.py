"""`leadbot run | sandbox | migrate | import FILE | staff add/list/remove | webhooks | backup |
erase`."""

from __future__ import annotations

import argparse
import asyncio
import errno
import getpass
import logging
import sqlite3
import sys
import webbrowser
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.common.clock import SystemClock
from bot.common.contacts import InvalidContactField
from bot.common.deliveries import retry_failed, webhook_backlog
from bot.common.logs import setup_logging
from bot.common.webhooks import delivery_targets
from bot.config import (
    AppConfig,
    ConfigError,
    Settings,
    load_app_config,
    outbound_secrets,
)
from bot.privacy.erase import Erased, NobodyToErase, Person, erase_person, find_person
from bot.team.staff import add_staff, list_staff, remove_staff
from storage.backup import backup_sqlite, postgres_dump_hint, sqlite_file
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.models import Role

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="leadbot", description="Telegram-first lead handling")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the bot, the HTTP intake and the scheduler")
    sandbox = commands.add_parser(
        "sandbox",
        help="try leadbot in the browser: an emulated Telegram with a demo team",
        description="Runs the real application against an emulated Telegram served on "
        "127.0.0.1, with two managers, a supervisor, an admin and a client to play.",
    )
    sandbox.add_argument("--port", type=int, default=8081, help="the page's port (8081)")
    sandbox.add_argument("--db", type=Path, help="SQLite file to keep (default: a fresh one)")
    sandbox.add_argument("--open", action="store_true", help="open the page in the browser")
    sandbox.add_argument("--lang", choices=["en", "ru"], default="en", help="the team's language")
    sandbox.add_argument(
        "--http-port", type=int, default=0, help="leadbot's HTTP intake port (default: any free)"
    )
    commands.add_parser("migrate", help="upgrade the database schema")
    imports = commands.add_parser(
        "import",
        help="import leads from a CSV or XLSX file (shows what it would do first)",
        description="Reads the file (leadbot's export, Bitrix24's or amoCRM's, or any table "
        "with a phone, e-mail or message column), shows what importing it would do, asks, "
        "then imports. People we already know are skipped, attached or updated (--policy).",
    )
    imports.add_argument("file", type=Path)
    imports.add_argument(
        "--policy",
        choices=["skip", "attach", "update"],
        default="skip",
        help="rows of people we already know (by phone or e-mail): skip them (default), "
        "attach each to their lead as a history event, or fill their empty fields",
    )
    imports.add_argument("--yes", action="store_true", help="import without asking")
    staff = commands.add_parser("staff", help="manage staff").add_subparsers(
        dest="staff_command", required=True
    )
    add = staff.add_parser("add", help="add a staff member (active and on duty)")
    add.add_argument("telegram_id", type=int)
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--name", required=True)
    add.add_argument("--extension", help="their internal number on the PBX (calls name it)")
    staff.add_parser("list", help="list staff")
    remove = staff.add_parser("remove", help="deactivate a staff member")
    remove.add_argument("telegram_id", type=int)
    hooks = commands.add_parser(
        "webhooks",
        help="outbound webhooks and the Bitrix24 hand-off: pending and failed events",
        description="Per webhook (and bitrix24): events waiting to be delivered, events "
        "given up on, and how long the oldest waiting one has waited.",
    )
    hooks.add_argument(
        "--retry-failed",
        nargs="?",
        const="*",
        metavar="NAME",
        help="send the failed events again (of one webhook, or of all)",
    )
    backup = commands.add_parser(
        "backup",
        help="copy the SQLite database, consistently, while the bot runs",
        description="SQLite's online backup: FILE is the database as of one moment. On "
        "PostgreSQL it tells how to use pg_dump instead.",
    )
    backup.add_argument("file", type=Path, help="the copy to write (must not exist)")
    erase = commands.add_parser(
        "erase",
        help="remove a person's data on request",
        description="Blanks the person's contact details and their leads' personal fields, "
        "removes them from the leads' history and messages, and records who erased them. The "
        "leads stay for the reports (status, source, amount, dates).",
    )
    person = erase.add_mutually_exclusive_group(required=True)
    person.add_argument("--phone", help="their phone, in any format")
    person.add_argument("--email", help="their e-mail")
    person.add_argument("--telegram-id", type=int, help="their Telegram id (a client who wrote)")
    erase.add_argument("--yes", action="store_true", help="erase without asking")
    erase.add_argument(
        "--by", default=None, help="who erases (recorded on each lead; default: your login name)"
    )
    return parser


def _load() -> tuple[Settings, AppConfig]:
    try:
        settings = Settings()
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]).upper() if error["loc"] else "setting"
        message = error["msg"].removeprefix("Value error, ")
        raise ConfigError(message if message.startswith(name) else f"{name}: {message}") from exc
    return settings, load_app_config(settings.leadbot_config)


async def _run(settings: Settings, config: AppConfig) -> None:
    from bot.app import build_application  # aiogram and aiohttp load only for `run`

    await build_application(settings, config, SystemClock()).run_until_signalled()


async def _sandbox(settings: Settings, config: AppConfig, args: argparse.Namespace) -> int:
    from bot.app import until_signalled
    from bot.devtools.sandbox.runner import INTAKE_TOKEN, Sandbox, SandboxOptions

    # the page shows every update; a log line for each would bury the address printed below
    for noisy in ("aiogram.event", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    database_url = f"sqlite+aiosqlite:///{args.db.resolve()}" if args.db else None
    options = SandboxOptions(args.port, args.http_port, database_url, args.lang)
    sandbox = Sandbox(settings, config, options)
    try:
        await sandbox.start()
    except OSError as exc:
        port, option = (
            (args.http_port, "--http-port") if sandbox.emulator.serving else (args.port, "--port")
        )
        reason = "it is in use" if exc.errno == errno.EADDRINUSE else str(exc)
        print(
            f"leadbot sandbox: cannot listen on 127.0.0.1:{port}: {reason}; "
            f"choose another with {option}",
            file=sys.stderr,
        )
        await sandbox.stop()
        return 1
    database = args.db.resolve() if args.db else "a fresh SQLite file, deleted on exit"
    print(
        f"\nleadbot sandbox is running: open {sandbox.page_url}\n"
        f"  web forms can post to {sandbox.intake_url} (Authorization: Bearer {INTAKE_TOKEN})\n"
        f"  database: {database}\n  Ctrl+C stops it.",
        flush=True,
    )
    if args.open and not webbrowser.open(sandbox.page_url):
        print("  (no browser found to open: open the address above yourself)", flush=True)
    try:
        await until_signalled()
    finally:
        await sandbox.stop()
    return 0


async def _migrate(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    print("database is up to date")


async def _staff(settings: Settings, config: AppConfig, args: argparse.Namespace) -> int:
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with session_factory(engine)() as session:
            if args.staff_command == "add":
                staff = await add_staff(
                    session,
                    args.telegram_id,
                    Role(args.role),
                    args.name,
                    SystemClock().now(),
                    args.extension,
                )
                extension = f", extension {staff.extension}" if staff.extension else ""
                print(f"{staff.telegram_id} {staff.name}: {staff.role}, active, on duty{extension}")
            elif args.staff_command == "list":
                for staff in await list_staff(session):
                    state = "active" if staff.is_active else "inactive"
                    duty = "on duty" if staff.on_duty else "off duty"
                    extension = f"ext {staff.extension}" if staff.extension else "-"
                    print(
                        f"{staff.telegram_id}\t{staff.role}\t{state}\t{duty}\t{extension}"
                        f"\t{staff.name}"
                    )
            elif (
                await remove_staff(
                    session, args.telegram_id, SystemClock().now(), settings.leads_chat_id, config
                )
                is None
            ):
                print(f"no staff member with Telegram id {args.telegram_id}", file=sys.stderr)
                return 1
            else:
                print(f"{args.telegram_id} deactivated")
    finally:
        await engine.dispose()
    return 0


def _age(age: timedelta | None) -> str:
    if age is None:
        return "-"
    seconds = int(age.total_seconds())
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h {rest // 60:02d}m" if hours else f"{rest // 60}m {rest % 60:02d}s"


async def _webhooks(settings: Settings, config: AppConfig, args: argparse.Namespace) -> int:
    engine = create_engine(settings.database_url)
    configured = delivery_targets(config)
    try:
        await upgrade(engine)
        async with session_factory(engine)() as session:
            now = SystemClock().now()
            if args.retry_failed is not None:
                target = None if args.retry_failed == "*" else args.retry_failed
                again = await retry_failed(session, now, config, target)
                print(f"{again} failed event(s) pending again")
            backlog = await webhook_backlog(session, now, configured)
    finally:
        await engine.dispose()
    if not backlog:
        print("no webhooks configured and nothing queued")
        return 0
    print(f"{'webhook':<24}{'pending':>9}{'failed':>8}  oldest pending")
    for row in backlog:
        note = "" if row.target in configured else "  (not configured: waits)"
        print(
            f"{row.target:<24}{row.pending:>9}{row.failed:>8}  {_age(row.oldest_pending_age)}{note}"
        )
    return 0


def _backup(settings: Settings, target: Path) -> int:
    source = sqlite_file(settings.database_url)
    if source is None:
        print(postgres_dump_hint(settings.database_url), file=sys.stderr)
        return 1
    try:
        done = backup_sqlite(source, target)
    except (OSError, sqlite3.Error, RuntimeError) as exc:
        print(f"leadbot backup: {exc}", file=sys.stderr)
        return 1
    print(
        f"backup written to {done.path}: {done.size} bytes, {done.leads} leads, "
        f"schema {done.revision}"
    )
    return 0


async def _erase(settings: Settings, config: AppConfig, args: argparse.Namespace) -> int:
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with session_factory(engine)() as session:
            try:
                person = await find_person(
                    session,
                    phone=args.phone,
                    email=args.email,
                    telegram_id=args.telegram_id,
                    region=config.phone_region,
                )
            except InvalidContactField as exc:
                print(f"leadbot erase: {exc}", file=sys.stderr)
                return 2
            except NobodyToErase:
                print("leadbot erase: no contact or lead has that", file=sys.stderr)
                return 1
            print(_found(person))
            question = "Erase this person's data? It cannot be undone. Type yes: "
            if not args.yes and not await _confirmed("erase", question, ("yes",)):
                print("nothing erased")
                return 1
            by = args.by or _login_name()
            erased = await erase_person(session, person, by, SystemClock().now())
    finally:
        await engine.dispose()
    print(_erased(erased, by))
    return 0


def _found(person: Person) -> str:
    leads = ", ".join(f"#{lead_id}" for lead_id in person.lead_ids) or "none"
    return f"found {len(person.contact_ids)} contact(s) and {len(person.lead_ids)} lead(s): {leads}"


async def _confirmed(command: str, question: str, accepted: tuple[str, ...]) -> bool:
    """Asked at a terminal; without one (a script, a pipe) the answer is no, and --yes is
    named."""
    if not sys.stdin.isatty():
        print(
            f"leadbot {command}: add --yes to {command} without a terminal to ask", file=sys.stderr
        )
        return False
    try:
        answer = await asyncio.to_thread(input, question)
    except EOFError:
        return False
    return answer.strip().lower() in accepted


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name (a container's uid without a passwd entry)
        return "operator"


def _erased(erased: Erased, by: str) -> str:
    rows = ", ".join(f"{table} {count}" for table, count in sorted(erased.rows.items()))
    held = f"; {erased.held} message(s) not sent" if erased.held else ""
    return f"erased by {by}: rows changed: {rows or 'none'}{held}"


async def _import(settings: Settings, config: AppConfig, args: argparse.Namespace) -> int:
    from bot.intake.imports.apply import apply_import
    from bot.intake.imports.preview import preview_import
    from bot.intake.imports.reading import UnreadableFile
    from bot.intake.imports.store import Counts, ImportRun, Policy

    path: Path = args.file
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        sessions = session_factory(engine)
        now = SystemClock().now()
        try:
            async with sessions() as session:
                preview = await preview_import(session, path, path.name, config, now)
        except UnreadableFile as unreadable:
            print(f"leadbot import: {path.name} is not a table ({unreadable})", file=sys.stderr)
            return 1
        print(_preview_text(preview))
        if not preview.importable:
            print("nothing to import")
            return 0
        question = f"import with --policy {args.policy}? [y/N] "
        if not args.yes and not await _confirmed("import", question, ("y", "yes")):
            print("nothing imported")
            return 0
        rejected = path.with_name(f"{path.stem}.not_imported.csv")
        run = ImportRun(path.name, Policy(args.policy), None, now, config)

        async def progress(counts: Counts) -> None:
            print(f"  {counts.read} of {preview.rows} rows", flush=True)

        counts = await apply_import(sessions, path, run, rejected, config.locale, progress)
    finally:
        await engine.dispose()
    print(
        f"created {counts.created}, attached {counts.attached}, updated {counts.updated}, "
        f"skipped {counts.skipped}, imported before {counts.already}, rejected {counts.rejected}"
    )
    if counts.rejected:
        print(f"the rejected rows, with the reason: {rejected}")
    else:
        rejected.unlink(missing_ok=True)
    return 0


def _preview_text(preview: Any) -> str:
    """The preview as the terminal shows it (the chat's is templates/*/import_preview)."""
    from bot.intake.imports.rejected import describe

    columns = preview.columns
    lines = [
        f"{preview.file_name}: {preview.kind}"
        + (f", {preview.encoding}, delimiter {preview.delimiter!r}" if preview.encoding else "")
        + f", {columns.origin}",
        "columns: " + ", ".join(f"{header} -> {field}" for header, field in columns.shown()),
    ]
    if columns.left_out():
        lines.append("left out: " + ", ".join(columns.left_out()))
    lines.append(
        f"{preview.rows} rows: {preview.new} new leads, {preview.duplicates} of people we know, "
        f"{preview.already} imported before, {preview.rejected} rejected"
    )
    if preview.closed:
        lines.append("closed: " + ", ".join(f"{k} {v}" for k, v in sorted(preview.closed.items())))
    for name, found in (("owners", preview.noted_owners()), ("statuses", preview.noted_statuses())):
        if found:
            lines.append(f"{name} not recognised: " + ", ".join(f"{k} ({v})" for k, v in found))
    lines += [f"  row {sample.number}: {describe(sample, 'en')}" for sample in preview.samples]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings, config = _load()
        outbound: list[str] = []
        if args.command == "run":
            settings.require_bot_token()
            outbound = outbound_secrets(config).values()  # every webhook's secret is there
        setup_logging(settings.log_level, settings.secret_values() + outbound, settings.log_format)
    except ConfigError as exc:
        print(f"leadbot: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.command == "run":
        asyncio.run(_run(settings, config))
        return 0
    if args.command == "sandbox":
        return asyncio.run(_sandbox(settings, config, args))
    if args.command == "migrate":
        asyncio.run(_migrate(settings))
        return 0
    if args.command == "webhooks":
        return asyncio.run(_webhooks(settings, config, args))
    if args.command == "backup":
        return _backup(settings, args.file)
    if args.command == "erase":
        return asyncio.run(_erase(settings, config, args))
    if args.command == "import":
        if not args.file.is_file():
            print(f"leadbot import: no file {args.file}", file=sys.stderr)
            return 1
        return asyncio.run(_import(settings, config, args))
    return asyncio.run(_staff(settings, config, args))


if __name__ == "__main__":
    sys.exit(main())
