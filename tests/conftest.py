"""Shared fixtures: a real database (SQLite file, and PostgreSQL when TEST_DATABASE_URL is set),
dialogue state in memory (and in Redis, when TEST_REDIS_URL is set, for the modules that ask for
both), a movable clock, staff.

The tests sit in rings, one directory each, and each test is marked with its ring's name (so
`pytest -m "not app"` is the fast loop): unit (pure: no database, no application), core (the
core functions on a real database), app (the real application against the emulated Bot API),
http (the HTTP routes with a real client), browser (the sandbox's page in Chromium)."""

from __future__ import annotations

import asyncio
import functools
import io
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import aiohttp
import pytest
from alembic.script import ScriptDirectory
from redis.asyncio import Redis
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import Application
from bot.common.clock import ManualClock
from bot.config import AppConfig, load_app_config
from bot.devtools.emulator import TelegramEmulator
from bot.team.staff import add_staff
from storage.db import SessionFactory, create_engine, session_factory
from storage.migrate import alembic_config, upgrade
from storage.models import Base, Role, Staff
from tests.harness import (
    ANNA,
    BORIS,
    STRANGER,
    SVETA,
    TEAM_CHAT,
    TOKEN,
    Intake,
    fast_config,
    running_app,
    unpaced_config,
)
from tests.mail_server import MailServer
from tests.mailbox import ImapMailbox, imap_server_url, new_mailbox

BACKENDS = ["sqlite", "postgresql"]
# Dialogue (FSM) storages. Every e2e test runs on memory; a module runs on both with
#   pytestmark = pytest.mark.parametrize("fsm_storage", FSM_STORAGES, indirect=True)
# Redis runs with PostgreSQL only: it is the several-instances set-up (SQLite serves one
# process), and the dialogue's storage does not depend on the database (memory runs on both).
FSM_STORAGES = ["memory", "redis"]
NOT_PAIRED = {("sqlite", "redis")}

RINGS = ("unit", "core", "app", "http", "browser")
# What a ring's tests may not ask for (fixtures that need them count too): a unit test has no
# database and no emulator, a core test no emulator (so no application) and no Redis.
BEYOND_RING = {
    "unit": {"database_url", "emulator", "redis_url"},
    "core": {"emulator", "redis_url"},
}
MISPLACED = pytest.StashKey[str]()  # why a test is in the wrong ring


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark each test with its ring (the directory under tests/ it sits in). A test outside
    every ring, or asking for more than its ring allows, fails and says why."""
    root = Path(__file__).parent
    unpaired = [item for item in items if _pairing(item) in NOT_PAIRED]
    if unpaired:
        config.hook.pytest_deselected(items=unpaired)
        items[:] = [item for item in items if _pairing(item) not in NOT_PAIRED]
    for item in items:
        try:
            ring = item.path.relative_to(root).parts[0]
        except ValueError:
            continue  # not one of ours
        if ring not in RINGS:
            item.stash[MISPLACED] = f"sits in no ring: move it to tests/{{{','.join(RINGS)}}}/"
            continue
        item.add_marker(getattr(pytest.mark, ring))
        beyond = BEYOND_RING.get(ring, set()) & set(getattr(item, "fixturenames", ()))
        if beyond:
            needs = ", ".join(sorted(beyond))
            item.stash[MISPLACED] = f"needs {needs}, beyond the {ring} ring: move it out"


def _pairing(item: pytest.Item) -> tuple[str, str] | None:
    params = getattr(getattr(item, "callspec", None), "params", {})
    if "database_url" in params and "fsm_storage" in params:
        return str(params["database_url"]), str(params["fsm_storage"])
    return None


def pytest_runtest_setup(item: pytest.Item) -> None:
    if MISPLACED in item.stash:
        pytest.fail(f"{item.nodeid} {item.stash[MISPLACED]}", pytrace=False)


@pytest.fixture(autouse=True)
async def no_task_left_running() -> AsyncIterator[None]:
    """Tasks a test leaves running are ended here, after its other fixtures, rather than by the
    event loop's close, which cancels each once and then waits for ever: a task that awaits
    again while being cancelled (a connection closing, a rollback) is cancelled until it ends.
    One that will not end fails its test with its stack instead of hanging the whole run."""
    yield
    current = asyncio.current_task()
    left: list[asyncio.Task[object]] = []
    for _ in range(10):
        left = [task for task in asyncio.all_tasks() if task is not current and not task.done()]
        if not left:
            return
        for task in left:
            task.cancel()
        await asyncio.wait(left, timeout=0.5)
    stacks = io.StringIO()
    forget = getattr(asyncio.tasks, "_unregister_task", None)  # CPython's, up to 3.13
    for task in left:
        stacks.write(f"\n{task!r}\n")
        task.print_stack(file=stacks)
        if forget is not None:
            forget(task)  # so that closing the loop does not wait for it
    pytest.fail(f"{len(left)} task(s) would not end when cancelled:{stacks.getvalue()}")


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'leadbot.db'}"
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.skip("TEST_DATABASE_URL is not set: PostgreSQL run skipped")
    return worker_url(url)


def worker_index() -> int | None:
    """Which of pytest-xdist's parallel workers runs this (gw0 -> 0), None without xdist."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker.removeprefix("gw")) if worker.startswith("gw") else None


def worker_url(url: str) -> str:
    """Each parallel worker has a database of its own on the one server: leadbot_test_gw1."""
    index = worker_index()
    if index is None:
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_gw{index}").render_as_string(False)


async def reset_database(url: str) -> None:
    """A clean database, migrated from nothing."""
    engine = create_engine(url)
    try:
        if not url.startswith("sqlite"):
            async with engine.begin() as connection:
                await connection.execute(text("DROP SCHEMA public CASCADE"))
                await connection.execute(text("CREATE SCHEMA public"))
        await upgrade(engine)
    finally:
        await engine.dispose()


_sqlite_template: list[Path] = []


async def clean_database(url: str, scratch: Path) -> None:
    """A clean, fully migrated database for a test, without running the migrations each time
    (they took a tenth of the suite): SQLite gets a copy of a file migrated once per run;
    PostgreSQL has every table emptied and its ids restarted, and is migrated afresh only when
    it is not at the head revision (the first test, or after a migrations test)."""
    if url.startswith("sqlite"):
        if not _sqlite_template:
            template = scratch / "template.db"
            await reset_database(f"sqlite+aiosqlite:///{template}")
            _sqlite_template.append(template)
        shutil.copyfile(_sqlite_template[0], url.split(":///", 1)[1])
        return
    await _create_worker_database(url)
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            versioned = await connection.scalar(text("SELECT to_regclass('alembic_version')"))
            version = versioned and await connection.scalar(
                text("SELECT max(version_num) FROM alembic_version")
            )
            at_head = version == head_revision()
            tables = (
                await connection.scalars(
                    text(
                        "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public'"
                        " AND tablename <> 'alembic_version'"
                    )
                )
            ).all()
            if at_head and tables:
                truncate = f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"
                await connection.execute(text(truncate))
    finally:
        await engine.dispose()
    if not at_head:
        await reset_database(url)


_created: set[str] = set()


async def _create_worker_database(url: str) -> None:
    """Create a worker's database (worker_url) on the server on its first test."""
    if url in _created or url == os.environ.get("TEST_DATABASE_URL"):
        return
    server = create_engine(os.environ["TEST_DATABASE_URL"], isolation_level="AUTOCOMMIT")
    try:
        async with server.connect() as connection:
            name = make_url(url).database
            query = text("SELECT 1 FROM pg_database WHERE datname = :name")
            exists = await connection.scalar(query, {"name": name})
            if not exists:
                await connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        await server.dispose()
    _created.add(url)


@functools.cache
def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


@pytest.fixture
async def engine(
    database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[AsyncEngine]:
    await clean_database(database_url, tmp_path_factory.getbasetemp())
    engine = create_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessions(engine: AsyncEngine) -> SessionFactory:
    return session_factory(engine)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def config() -> AppConfig:
    return load_app_config()


@pytest.fixture
async def staff(sessions: SessionFactory, clock: ManualClock) -> dict[str, Staff]:
    """Two managers and a supervisor, as an admin would add them with `leadbot staff add`."""
    people = {
        "anna": (1001, Role.MANAGER, "Anna"),
        "boris": (1002, Role.MANAGER, "Boris"),
        "sveta": (1003, Role.SUPERVISOR, "Sveta"),
    }
    added = {}
    async with sessions() as session:
        for key, (telegram_id, role, name) in people.items():
            added[key] = await add_staff(session, telegram_id, role, name, clock.now())
    return added


@pytest.fixture
async def emulator() -> AsyncIterator[TelegramEmulator]:
    emu = TelegramEmulator(token=TOKEN, bot_username="leadbot_test_bot")
    await emu.start()
    emu.add_user(ANNA, "Anna", language_code="en")
    emu.add_user(BORIS, "Boris", language_code="ru")
    emu.add_user(SVETA, "Sveta", language_code="ru")
    emu.add_user(STRANGER, "Stranger", language_code="en")
    emu.add_group(TEAM_CHAT, "Sales team")
    yield emu
    await emu.stop()


@pytest.fixture
def fsm_storage(request: pytest.FixtureRequest) -> str:
    """Where the application keeps dialogue state: "memory" unless parametrized (above)."""
    return str(getattr(request, "param", "memory"))


@pytest.fixture
async def redis_url(fsm_storage: str) -> str | None:
    """REDIS_URL for the application: None (memory), or TEST_REDIS_URL with its database
    flushed. Without TEST_REDIS_URL the Redis run is skipped; CI sets LEADBOT_REQUIRE_REDIS=1,
    and there it fails instead."""
    if fsm_storage == "memory":
        return None
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        if os.environ.get("LEADBOT_REQUIRE_REDIS") == "1":
            pytest.fail("TEST_REDIS_URL is not set: export TEST_REDIS_URL=$(scripts/test-redis)")
        pytest.skip("TEST_REDIS_URL is not set: Redis run skipped")
    index = worker_index()
    if index is not None:  # a database of its own for each parallel worker (16 by default)
        url = urlsplit(url)._replace(path=f"/{index}").geturl()
    client = Redis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()
    return url


@pytest.fixture
def mailbox() -> ImapMailbox:
    """A clean mailbox (a user of its own) on the test IMAP server, TEST_IMAP_URL (started by
    scripts/test-imap). Without it the test is skipped; CI sets LEADBOT_REQUIRE_IMAP=1, and
    there it fails instead."""
    url = imap_server_url()
    if not url:
        if os.environ.get("LEADBOT_REQUIRE_IMAP") == "1":
            pytest.fail("TEST_IMAP_URL is not set: export TEST_IMAP_URL=$(scripts/test-imap)")
        pytest.skip("TEST_IMAP_URL is not set: IMAP run skipped")
    return new_mailbox(url, worker_index())


@pytest.fixture
async def app(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    staff: dict[str, Staff],
    redis_url: str | None,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Application]:
    """The application, sending as fast as the emulator takes it; at Telegram's real pace
    (1 message a second per chat after a burst of 3) for tests marked `telegram_pace`, which
    are about that pace (the others would wait a second a message for nothing)."""
    paced = request.node.get_closest_marker("telegram_pace") is not None
    config = fast_config() if paced else unpaced_config()
    async with running_app(
        emulator, database_url, clock, config=config, redis_url=redis_url
    ) as application:
        yield application


@pytest.fixture
async def intake(app: Application) -> AsyncIterator[Intake]:
    async with aiohttp.ClientSession() as http:
        yield Intake(app, http)


@pytest.fixture
async def mail_server() -> AsyncIterator[MailServer]:
    """A real SMTP server on a free port (tests/mail_server.py), stopped after the test."""
    server = MailServer()
    await server.start()
    yield server
    await server.stop()


__all__ = ["Base"]
