"""Notes on a lead and its history, as the people who work it read them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.lifecycle import CLOSED_EVENT, SUPERVISING
from bot.common.reasons import system_reason_label
from bot.common.render import labels, local_time
from bot.config import AppConfig
from bot.leads.actions import ActionResult, Refusal, load_lead
from storage.models import Lead, LeadEvent, Staff

HISTORY_PAGE = 8  # lines per page: a phone screen
NOTE_LIMIT = 2000


@dataclass(frozen=True)
class HistoryLine:
    at: datetime
    who: str | None  # None: the system (intake, the scheduler)
    kind: str
    data: dict[str, Any]


async def may_annotate(session: AsyncSession, lead_id: int, actor: Staff) -> ActionResult:
    """Notes and history are for the lead's owner and for supervisors."""
    lead = await load_lead(session, lead_id)
    if lead is None:
        return ActionResult(None, Refusal.NOT_FOUND)
    if actor.role in SUPERVISING or lead.owner_id == actor.id:
        return ActionResult(lead)
    owner = lead.owner.name if lead.owner else None
    return ActionResult(lead, Refusal.NOT_YOURS if owner else Refusal.NOT_ALLOWED, owner)


async def add_note(
    session: AsyncSession, lead_id: int, actor: Staff, text: str, now: datetime
) -> ActionResult:
    allowed = await may_annotate(session, lead_id, actor)
    if not allowed.ok:
        return allowed
    session.add(
        LeadEvent(
            lead_id=lead_id,
            kind="note",
            actor_id=actor.id,
            data={"text": text[:NOTE_LIMIT]},
            created_at=now,
        )
    )
    # a note is a step of the work: the lead is not stalled (the card itself does not change)
    await session.execute(update(Lead).where(Lead.id == lead_id).values(updated_at=now))
    await session.commit()
    return allowed


async def lead_history(
    session: AsyncSession, lead_id: int, page: int, size: int = HISTORY_PAGE
) -> tuple[list[HistoryLine], int]:
    """One page of the lead's events, newest first, and the number of pages."""
    total = await session.scalar(select(func.count()).where(LeadEvent.lead_id == lead_id)) or 0
    pages = max(1, -(-total // size))
    page = min(max(page, 0), pages - 1)
    rows = await session.execute(
        select(LeadEvent, Staff.name)
        .outerjoin(Staff, Staff.id == LeadEvent.actor_id)
        .where(LeadEvent.lead_id == lead_id)
        .order_by(LeadEvent.id.desc())
        .offset(page * size)
        .limit(size)
    )
    lines = [HistoryLine(event.created_at, name, event.kind, event.data) for event, name in rows]
    return lines, pages


@dataclass(frozen=True)
class ShownLine:
    at: str
    who: str | None
    kind: str
    detail: str | None


def shown_history(lines: list[HistoryLine], config: AppConfig, locale: str) -> list[ShownLine]:
    """History lines as a reader sees them: local time, reason labels, due times, notes."""
    zone = config.zone
    return [
        ShownLine(
            local_time(line.at, zone, locale), line.who, line.kind, _detail(line, config, locale)
        )
        for line in lines
    ]


def _detail(line: HistoryLine, config: AppConfig, locale: str) -> str | None:
    data = line.data
    if line.kind in ("junk", "refuse") and "reason" in data:
        reason = config.close_reason(line.kind, data["reason"])
        label = reason.label(locale) if reason else data["reason"]
        return f"{label} — {data['comment']}" if data.get("comment") else label
    if line.kind == CLOSED_EVENT and "reason" in data:  # by the system (auto-close)
        return system_reason_label(data["reason"], locale, config)
    if line.kind == "callback_scheduled" and "due_at" in data:
        return local_time(datetime.fromisoformat(data["due_at"]), config.zone, locale)
    if line.kind == "client_time" and "at" in data:  # a time the client picked in the bot
        return local_time(datetime.fromisoformat(data["at"]), config.zone, locale)
    if line.kind == "call":  # incoming, missed, 0 s
        names = labels(locale)["calls"]
        parts = [names.get(str(data.get("direction")), ""), names.get(str(data.get("status")), "")]
        return ", ".join([*filter(None, parts), f"{int(data.get('duration') or 0)} s"])
    if line.kind == "recording":  # bot/telephony/recordings.py: the call's length
        return play_length(int(data.get("duration") or 0))
    if line.kind in ("created", "repeat_request") and data.get("source"):
        source = str(data["source"])  # a form may send any source: unknown ones as they are
        return str(labels(locale)["channels"].get(source, source))
    if line.kind == "replied" and data.get("email"):  # by e-mail (bot/email/replies.py)
        return f"✉️ {data['email']}: {data.get('text', '')}"
    if line.kind in ("note", "replied", "client_blocked", "email_bounced", "email_failed"):
        return str(data.get("text", ""))
    if line.kind == "erased":  # bot/privacy/erase.py: the operator who erased the person's data
        return str(data.get("by", ""))
    if line.kind == "imported" and data.get("file"):  # bot/intake/imports: the file and row
        return f"{data['file']}:{data.get('row', '')}"
    return None


def play_length(seconds: int) -> str:
    """A recording's length as a player shows it: "2:35", "1:02:03"."""
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
