"""`leadbot run | sandbox | migrate | import FILE | staff add/list/remove`."""

from __future__ import annotations

import argparse
import asyncio
import errno
import logging
import sys
import webbrowser
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.common.clock import SystemClock
from bot.common.logs import setup_logging
from bot.config import AppConfig, ConfigError, Settings, load_app_config
from bot.team.staff import add_staff, list_staff, remove_staff
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
        if not args.yes and not _confirmed(f"import with --policy {args.policy}? [y/N] "):
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


def _confirmed(question: str) -> bool:
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings, config = _load()
        if args.command == "run":
            settings.require_bot_token()
        secrets = [
            s.get_secret_value()
            for s in (settings.bot_token, settings.intake_token, settings.telegram_webhook_secret)
            if s
        ]
        setup_logging(settings.log_level, secrets)
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
    if args.command == "import":
        if not args.file.is_file():
            print(f"leadbot import: no file {args.file}", file=sys.stderr)
            return 1
        return asyncio.run(_import(settings, config, args))
    return asyncio.run(_staff(settings, config, args))


if __name__ == "__main__":
    sys.exit(main())
