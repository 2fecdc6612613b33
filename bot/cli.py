"""`leadbot run | migrate | staff add/list/remove`."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from bot.clock import SystemClock
from bot.config import AppConfig, ConfigError, Settings, load_app_config
from bot.logs import setup_logging
from bot.staff import add_staff, list_staff, remove_staff
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from storage.models import Role

EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="leadbot", description="Telegram-first lead handling")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("run", help="run the bot, the HTTP intake and the scheduler")
    commands.add_parser("migrate", help="upgrade the database schema")
    staff = commands.add_parser("staff", help="manage staff").add_subparsers(
        dest="staff_command", required=True
    )
    add = staff.add_parser("add", help="add a staff member (active and on duty)")
    add.add_argument("telegram_id", type=int)
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--name", required=True)
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


async def _migrate(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()
    print("database is up to date")


async def _staff(settings: Settings, args: argparse.Namespace) -> int:
    engine = create_engine(settings.database_url)
    try:
        await upgrade(engine)
        async with session_factory(engine)() as session:
            if args.staff_command == "add":
                staff = await add_staff(
                    session, args.telegram_id, Role(args.role), args.name, SystemClock().now()
                )
                print(f"{staff.telegram_id} {staff.name}: {staff.role}, active, on duty")
            elif args.staff_command == "list":
                for staff in await list_staff(session):
                    state = "active" if staff.is_active else "inactive"
                    duty = "on duty" if staff.on_duty else "off duty"
                    print(f"{staff.telegram_id}\t{staff.role}\t{state}\t{duty}\t{staff.name}")
            elif await remove_staff(session, args.telegram_id) is None:
                print(f"no staff member with Telegram id {args.telegram_id}", file=sys.stderr)
                return 1
            else:
                print(f"{args.telegram_id} deactivated")
    finally:
        await engine.dispose()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings, config = _load()
        if args.command == "run":
            settings.require_bot_token()
        secrets = [s.get_secret_value() for s in (settings.bot_token, settings.intake_token,
                   settings.telegram_webhook_secret) if s]  # fmt: skip
        setup_logging(settings.log_level, secrets)
    except ConfigError as exc:
        print(f"leadbot: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.command == "run":
        asyncio.run(_run(settings, config))
        return 0
    if args.command == "migrate":
        asyncio.run(_migrate(settings))
        return 0
    return asyncio.run(_staff(settings, args))


if __name__ == "__main__":
    sys.exit(main())
