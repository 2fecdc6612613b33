"""A letter's files, "kept as documents on the lead": each file within the caps is stored
(email_attachments) and sent through the outbox as a document to whoever gets the lead's news
(its owner; while nobody owns it, the chats its card goes to), with a Reply button like any
relayed message. Telegram then holds it and leadbot drops the bytes. A file past the caps
(per file, per letter, how many) is listed by name and size instead. The lead's text carries
"📎 name" for every file, so its card and history show them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.outbox import document_message, enqueue, text_message
from bot.config import EmailIntake
from bot.email.letters import Attachment
from bot.intake.client_chat import news_chats
from storage.models import EmailAttachment, OutboxKind, OutboxMessage, OutboxState


@dataclass(frozen=True)
class FilesPlan:
    passed: list[Attachment]  # sent on as documents
    listed: list[Attachment]  # too big (or too many): named only


def plan_files(
    attachments: tuple[Attachment, ...], limits: EmailIntake, complete: bool = True
) -> FilesPlan:
    """Which files go on, in the letter's order: each within max_file_bytes, all of them
    within max_files_bytes and max_files; an empty file is not worth a message. Of a letter
    read in part (not `complete`) none goes on: its files are cut, they are only named."""
    passed: list[Attachment] = []
    listed: list[Attachment] = []
    if not complete:
        return FilesPlan([], list(attachments))
    total = 0
    for item in attachments:
        if not item.size:
            continue
        fits = item.size <= limits.max_file_bytes and total + item.size <= limits.max_files_bytes
        if fits and len(passed) < limits.max_files:
            passed.append(item)
            total += item.size
        else:
            listed.append(item)
    return FilesPlan(passed, listed)


def size_text(size: int) -> str:
    """1.5 MB, 320 KB, 12 B: how a file's size is shown."""
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.1f} MB"
    if size >= 1024:
        return f"{size // 1024} KB"
    return f"{size} B"


LINES_SHOWN = 20


def files_lines(attachments: tuple[Attachment, ...], sizes: bool = True) -> str:
    """The lead's text's "📎 name (size)" lines, one per file (the first LINES_SHOWN); without
    `sizes` (a letter read in part: its files are cut) the names alone."""
    lines = [
        f"📎 {item.name} ({size_text(item.size)})" if sizes else f"📎 {item.name}"
        for item in attachments[:LINES_SHOWN]
    ]
    if len(attachments) > LINES_SHOWN:
        lines.append(f"📎 … +{len(attachments) - LINES_SHOWN}")
    return "\n".join(lines)


async def send_files(
    session: AsyncSession,
    letter_id: int,
    lead_id: int,
    plan: FilesPlan,
    now: datetime,
    complete: bool = True,
) -> int:
    """Store the files that go on and queue them for the lead's news chats (rows written
    earlier in this transaction, a new lead's cards, count); the ones that do not are named
    to the same chats. In the caller's transaction; how many documents were queued."""
    if not plan.passed and not plan.listed:
        return 0
    chats = await news_chats(session, lead_id)
    rows: list[dict[str, Any]] = []
    if plan.passed:
        stored = [
            {
                "letter_id": letter_id,
                "lead_id": lead_id,
                "name": item.name,
                "content_type": item.content_type[:255],
                "size": item.size,
                "data": item.data,
                "created_at": now,
            }
            for item in plan.passed
        ]
        table = EmailAttachment.__table__
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        ids = list((await session.execute(statement, stored)).scalars())
        rows += [
            document_message(lead_id, chat_id, staff_id, attachment_id, now)
            for chat_id, staff_id in chats
            for attachment_id in ids
        ]
    if plan.listed:
        files = [
            {"name": item.name, "size": size_text(item.size) if complete else "?"}
            for item in plan.listed
        ]
        context = {"lead_id": lead_id, "files": files}
        rows += [
            text_message(lead_id, chat_id, staff_id, "email_files_too_big", context, now)
            for chat_id, staff_id in chats
        ]
    await enqueue(session, rows)
    return len(plan.passed) * len(chats)


async def file_to_send(session: AsyncSession, attachment_id: int) -> EmailAttachment | None:
    """The stored file a DOCUMENT row sends; None once its bytes are gone."""
    found = await session.get(EmailAttachment, attachment_id)
    return found if found is not None and found.data is not None else None


async def file_settled(session: AsyncSession, attachment_id: int, row_id: int) -> bool:
    """The DOCUMENT row `row_id` is done (sent, or refused for good): when no other row still
    waits to send the file, its bytes are dropped (Telegram holds it now). Commits; whether
    they were."""
    waiting = await session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.kind == OutboxKind.DOCUMENT,
            OutboxMessage.state == OutboxState.PENDING,
            OutboxMessage.id != row_id,
            OutboxMessage.payload["attachment_id"].as_integer() == attachment_id,
        )
    )
    if waiting:
        return False
    await session.execute(
        update(EmailAttachment).where(EmailAttachment.id == attachment_id).values(data=None)
    )
    await session.commit()
    return True
