"""The work behind a file a supervisor sends for import, done in the background so the chat
(theirs and everyone's) goes on meanwhile: the file is downloaded (getFile, then the file
link: the bot's own session, through the gate), read through for the preview, kept on disk
until a button says what to do, then imported in batches while a message shows the progress
(edited every few seconds, through the gate like every call), and ends with the counts and
the file of rows not imported.

Between the preview and the press the file waits here, under a random token the buttons
carry, for 30 minutes; a restart forgets it (the press then says to send the file again).
Nothing about the file is in the database until a policy is pressed."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiogram import Bot
from aiogram.types import Document, FSInputFile

from bot.common.clock import Clock
from bot.common.render import labels, render
from bot.config import AppConfig
from bot.intake.imports.apply import apply_import
from bot.intake.imports.preview import Preview, preview_import
from bot.intake.imports.reading import UnreadableFile
from bot.intake.imports.rejected import describe
from bot.intake.imports.store import Counts, ImportRun, Policy
from handlers.errors import unchanged_or_gone
from handlers.keyboards.imports import import_keyboard
from storage.db import SessionFactory

log = logging.getLogger("leadbot.imports")

PENDING_FOR = 30 * 60.0  # seconds a preview's buttons work
PROGRESS_EVERY = 3.0  # seconds between edits of the progress message
DOWNLOAD_LIMIT = 20 * 1024 * 1024  # bytes: the largest file Telegram lets a bot download
SHOWN_COLUMNS = 25  # columns listed in the preview (a message holds 4096 characters)


@dataclass
class PendingImport:
    """A previewed file waiting for its button."""

    token: str
    path: Path
    file_name: str
    staff_id: int
    chat_id: int
    message_id: int
    locale: str
    preview: Preview
    since: float  # monotonic


class ImportDesk:
    """The imports of one process: the files waiting for a press, the runs in progress."""

    def __init__(
        self,
        sessions: SessionFactory,
        config: AppConfig,
        clock: Clock,
        progress_every: float = PROGRESS_EVERY,
    ) -> None:
        self.sessions = sessions
        self.config = config
        self.clock = clock
        self.progress_every = progress_every
        self._pending: dict[str, PendingImport] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._folder: Path | None = None

    # --- the file arrives -------------------------------------------------------------------

    async def receive(
        self, bot: Bot, chat_id: int, staff_id: int, locale: str, document: Document
    ) -> None:
        """Say the file is being read, then read it in the background."""
        name = document.file_name or "file"
        if (document.file_size or 0) > DOWNLOAD_LIMIT:
            await bot.send_message(
                chat_id, render("import_too_big.html.j2", locale, file_name=name)
            )
            return
        shown = await bot.send_message(
            chat_id, render("import_reading.html.j2", locale, file_name=name)
        )
        token = secrets.token_urlsafe(6)
        path = self._folder_path() / f"{token}{Path(name).suffix.lower()[:8]}"
        self._spawn(
            self._preview(
                bot, document.file_id, path, name, (staff_id, chat_id, shown.message_id), locale
            ),
            f"import-preview-{token}",
        )

    async def _preview(
        self,
        bot: Bot,
        file_id: str,
        path: Path,
        name: str,
        where: tuple[int, int, int],  # staff id, chat id, the message to edit
        locale: str,
    ) -> None:
        staff_id, chat_id, message_id = where
        try:
            await bot.download(file_id, destination=path)
            async with self.sessions() as session:
                preview = await preview_import(session, path, name, self.config, self.clock.now())
        except UnreadableFile as unreadable:
            _drop(path)
            text = render(
                "import_unreadable.html.j2", locale, file_name=name, problem=unreadable.problem
            )
            await self._edit(bot, chat_id, message_id, text)
            return
        except Exception:
            log.exception("import preview failed file=%r", name)
            _drop(path)
            text = render("import_unreadable.html.j2", locale, file_name=name, problem="failed")
            await self._edit(bot, chat_id, message_id, text)
            return
        context = preview_context(preview, locale)
        if not preview.importable:
            _drop(path)
            await self._edit(
                bot, chat_id, message_id, render("import_preview.html.j2", locale, **context)
            )
            return
        self._forget_expired()
        token = path.stem
        self._pending[token] = PendingImport(
            token, path, name, staff_id, chat_id, message_id, locale, preview, time.monotonic()
        )
        keyboard = import_keyboard(token, preview.duplicates, locale)
        await self._edit(
            bot, chat_id, message_id, render("import_preview.html.j2", locale, **context), keyboard
        )
        log.info(
            "import previewed file=%r rows=%d new=%d known=%d before=%d rejected=%d",
            name,
            preview.rows,
            preview.new,
            preview.duplicates,
            preview.already,
            preview.rejected,
        )

    # --- a button is pressed ----------------------------------------------------------------

    def claim(self, token: str, staff_id: int) -> PendingImport | None:
        """The file the button means, taken off the waiting list (so of two presses one has
        it); None when it is gone (pressed already, expired, a restart since) or someone
        else's (a forged button)."""
        self._forget_expired()
        pending = self._pending.get(token)
        if pending is None or pending.staff_id != staff_id:
            return None
        return self._pending.pop(token)

    async def cancel(self, bot: Bot, pending: PendingImport) -> None:
        _drop(pending.path)
        text = render("import_cancelled.html.j2", pending.locale, file_name=pending.file_name)
        await self._edit(bot, pending.chat_id, pending.message_id, text)

    async def start(self, bot: Bot, pending: PendingImport, policy: Policy) -> None:
        """Import the file in the background; the preview becomes the progress message."""
        await self._progress(bot, pending, Counts())
        self._spawn(self._import(bot, pending, policy), f"import-{pending.token}")

    async def _import(self, bot: Bot, pending: PendingImport, policy: Policy) -> None:
        run = ImportRun(pending.file_name, policy, pending.staff_id, self.clock.now(), self.config)
        rejected = pending.path.with_name(f"{pending.token}.rejected.csv")
        last = time.monotonic()
        done = Counts()

        async def progress(counts: Counts) -> None:
            nonlocal last, done
            done = counts
            if time.monotonic() - last >= self.progress_every:
                last = time.monotonic()
                await self._progress(bot, pending, counts)

        log.info(
            "import started file=%r policy=%s by=%s", pending.file_name, policy, pending.staff_id
        )
        try:
            counts = await apply_import(
                self.sessions, pending.path, run, rejected, pending.locale, progress
            )
        except Exception:
            log.exception("import failed file=%r", pending.file_name)
            text = render(
                "import_failed.html.j2",
                pending.locale,
                file_name=pending.file_name,
                done=done.read,
            )
            await self._edit(bot, pending.chat_id, pending.message_id, text)
            return
        finally:
            _drop(pending.path)
        log.info("import done file=%r counts=%s", pending.file_name, counts)
        text = render(
            "import_done.html.j2", pending.locale, file_name=pending.file_name, **vars(counts)
        )
        await self._edit(bot, pending.chat_id, pending.message_id, text)
        try:
            if counts.rejected:
                await self._send_rejected(bot, pending, rejected, counts.rejected)
        finally:
            _drop(rejected)

    async def _send_rejected(
        self, bot: Bot, pending: PendingImport, path: Path, count: int
    ) -> None:
        stem = Path(pending.file_name).stem[:60] or "file"
        name = f"{stem}_{labels(pending.locale)['imports']['rejected_file']}.csv"
        caption = render(
            "import_rejected_file.html.j2",
            pending.locale,
            file_name=pending.file_name,
            count=count,
        )
        try:
            await bot.send_document(
                pending.chat_id, FSInputFile(path, filename=name), caption=caption
            )
        except Exception:
            log.exception("the rejected rows' file could not be sent file=%r", pending.file_name)

    async def _progress(self, bot: Bot, pending: PendingImport, counts: Counts) -> None:
        text = render(
            "import_progress.html.j2",
            pending.locale,
            file_name=pending.file_name,
            rows=pending.preview.rows,
            done=counts.read,
            **vars(counts),
        )
        await self._edit(bot, pending.chat_id, pending.message_id, text)

    # --- the rest ---------------------------------------------------------------------------

    async def _edit(
        self, bot: Bot, chat_id: int, message_id: int, text: str, keyboard: Any = None
    ) -> None:
        """Edit a message of the import's; a failure (Telegram down past the gate's retries)
        costs that one edit, never the import."""
        try:
            with unchanged_or_gone():
                await bot.edit_message_text(
                    text, chat_id=chat_id, message_id=message_id, reply_markup=keyboard
                )
        except Exception:
            log.warning("import message not edited chat=%s message=%s", chat_id, message_id)

    def _spawn(self, work: Any, name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _folder_path(self) -> Path:
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="leadbot-import-"))
        return self._folder

    def _forget_expired(self) -> None:
        now = time.monotonic()
        for token, pending in list(self._pending.items()):
            if now - pending.since > PENDING_FOR:
                _drop(pending.path)
                del self._pending[token]

    @property
    def running(self) -> int:
        """Previews and imports under way (tests wait for none)."""
        return len(self._tasks)

    async def stop(self) -> None:
        """Stop what is under way (a batch in progress is rolled back), drop waiting files."""
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._tasks, return_exceptions=True)
        self._pending.clear()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


def _drop(path: Path) -> None:
    """A file of the desk's, gone (a local unlink: no need to leave the event loop)."""
    path.unlink(missing_ok=True)


def preview_context(preview: Preview, locale: str) -> dict[str, Any]:
    """The preview as import_preview.html.j2 shows it."""
    columns = preview.columns.shown()
    left_out = preview.columns.left_out()
    return {
        "file_name": preview.file_name,
        "origin": preview.columns.origin,
        "kind": preview.kind,
        "encoding": preview.encoding,
        "delimiter": preview.delimiter,
        "columns": columns[:SHOWN_COLUMNS],
        "more_columns": max(0, len(columns) - SHOWN_COLUMNS),
        "left_out": left_out[:20],
        "rows": preview.rows,
        "new": preview.new,
        "duplicates": preview.duplicates,
        "already": preview.already,
        "rejected": preview.rejected,
        "importable": preview.importable,
        "closed": dict(preview.closed),
        "owners": preview.noted_owners(),
        "statuses": preview.noted_statuses(),
        "samples": [(sample.number, describe(sample, locale)) for sample in preview.samples],
    }
