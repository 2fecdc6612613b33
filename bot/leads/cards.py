"""The lead card: what one reader sees of a lead, and which buttons they get."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.reasons import system_reason_label
from bot.common.render import (
    TELEGRAM_TEXT_LIMIT,
    arrival_time,
    cut,
    local_time,
    render,
    short_time,
    visible_length,
)
from bot.config import AppConfig
from bot.scoring.line import score_line
from bot.scoring.model import LeadScore
from bot.scoring.scores import score_for
from storage.models import (
    CALL_BACK_TASK,
    EMAIL_SOURCE,
    MISSED_CALL_TASK,
    TELEGRAM_SOURCE,
    Lead,
    LeadCard,
    LeadEvent,
    LeadStatus,
    Role,
    Staff,
    Task,
)

# Field budgets in UTF-16 units: together with the labels they keep a card under 4096.
NAME_LIMIT = 200
FIELD_LIMIT = 200
MESSAGE_LIMIT = 2400
EXTRA_LIMIT = 300
# leads whose client the card's Reply answers: in the bot, or by e-mail (bot/email/replies.py)
ANSWERED_HERE = (TELEGRAM_SOURCE, EMAIL_SOURCE)


class CardAction(enum.StrEnum):
    TAKE = "take"
    JUNK = "junk"
    CALL_BACK = "callback"
    QUALIFY = "qualify"
    CONVERT = "convert"
    REFUSE = "refuse"
    NOTE = "note"
    HISTORY = "history"
    DONE = "done"
    RESCHEDULE = "reschedule"
    REOPEN = "reopen"
    REASSIGN = "reassign"
    MERGE = "merge"  # into the lead it possibly duplicates
    REPLY = "reply"  # answer a client who wrote to the bot
    CALLED_BACK = "called_back"  # a missed call was returned
    NO_ANSWER = "no_answer"  # a missed call was returned, nobody picked up: try again later
    DIAL = "dial"  # 📞 Call: the office PBX rings the owner, then the client (click-to-call)


A = CardAction
# what the person who works a lead can do next, by status
WORKING_ACTIONS = {
    LeadStatus.IN_WORK: (A.CALL_BACK, A.QUALIFY, A.CONVERT, A.REFUSE, A.JUNK, A.NOTE, A.HISTORY),
    LeadStatus.CALL_BACK: (A.DONE, A.RESCHEDULE, A.REFUSE, A.JUNK, A.NOTE, A.HISTORY),
}


@dataclass(frozen=True)
class Reader:
    """Who looks at a card: a staff member in their private chat, or the team chat."""

    staff_id: int | None
    role: Role | None
    locale: str


@dataclass(frozen=True)
class MissedCalls:
    """The lead's latest missed-call task, as its card tells it."""

    phone: str
    count: int
    last_at: datetime
    due_at: datetime
    open: bool
    called_back_at: datetime | None


@dataclass(frozen=True)
class CardView:
    lead_id: int
    text: str
    actions: tuple[CardAction, ...]


def card_actions(
    lead: Lead, reader: Reader, missed_call_open: bool = False, dial: bool = False
) -> tuple[CardAction, ...]:
    """The buttons depend on the lead's status and on who looks: a new lead is anyone's to
    take; an open one is worked by its owner (and supervisors); a closed one only a
    supervisor can reopen. Supervisors may also hand an open lead to someone (Reassign).
    The team chat sees only Take and Junk. With click-to-call on (`dial`), the owner of a
    worked lead with a phone gets 📞 Call first."""
    supervising = reader.staff_id is not None and reader.role in (Role.SUPERVISOR, Role.ADMIN)
    actions = _status_actions(lead, reader, supervising)
    if (
        dial
        and actions
        and lead.phone
        and lead.status in WORKING_ACTIONS
        and reader.staff_id is not None
        and reader.staff_id == lead.owner_id
    ):
        actions = (A.DIAL, *actions)
    if missed_call_open and actions and lead.status in WORKING_ACTIONS.keys() | {LeadStatus.NEW}:
        # whoever may work (or take) the lead may return the call; on a new lead it takes it
        actions = (A.CALLED_BACK, A.NO_ANSWER, *actions)
    if (
        supervising
        and lead.possible_duplicate_of_id
        and lead.status in WORKING_ACTIONS.keys() | {LeadStatus.NEW}
    ):
        return (*actions, A.MERGE)
    return actions


def _status_actions(lead: Lead, reader: Reader, supervising: bool) -> tuple[CardAction, ...]:
    if lead.status == LeadStatus.NEW:
        if reader.staff_id is None:  # the team chat
            return (A.TAKE, A.JUNK)
        # Refuse (and Reply to a client in Telegram) take the lead first: two taps, not three
        taking = (A.TAKE, A.REFUSE, A.JUNK)
        if lead.source in ANSWERED_HERE:
            taking = (A.REPLY, *taking)
        if supervising:
            return (*taking, A.REASSIGN)
        offered_elsewhere = lead.offered_to_id not in (None, reader.staff_id)
        return () if offered_elsewhere else taking
    if reader.staff_id is None:
        return ()
    if lead.status in WORKING_ACTIONS:
        working = WORKING_ACTIONS[LeadStatus(lead.status)]
        if lead.source in ANSWERED_HERE:  # the client is in Telegram or wrote by e-mail
            working = (A.REPLY, *working)
        if supervising:
            return (*working, A.REASSIGN)
        return working if reader.staff_id == lead.owner_id else ()
    return (A.REOPEN, A.HISTORY) if supervising else ()


UTM_ORDER = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
UTM_LIMIT = 60  # one line on a phone


def utm_line(utm: dict[str, object] | None) -> str | None:
    """A lead's campaign tags folded into one short line: the values only, the usual tags
    first ("google / cpc / spring_sale"), cut to UTM_LIMIT; None when there are none."""
    if not utm:
        return None
    keys = [key for key in UTM_ORDER if key in utm] + sorted(k for k in utm if k not in UTM_ORDER)
    values = [str(utm[key]).strip() for key in keys if str(utm[key] or "").strip()]
    return cut(" / ".join(values), UTM_LIMIT) if values else None


def card_view(
    lead: Lead,
    owner_name: str | None,
    reader: Reader,
    now: datetime,
    reason_label: str | None = None,
    requests: int = 1,
    call_back_due: str | None = None,
    offered_name: str | None = None,
    missed_call: dict[str, object] | None = None,
    zone: tzinfo = UTC,
    score: LeadScore | None = None,
    dial: bool = False,
) -> CardView:
    """Render the card; long fields are cut so it always fits in one Telegram message."""
    message_limit = MESSAGE_LIMIT
    while True:
        text = render(
            "card.html.j2",
            reader.locale,
            lead=lead,
            owner_name=owner_name,
            is_mine=reader.staff_id is not None and reader.staff_id == lead.owner_id,
            arrived=arrival_time(lead.created_at, now, zone, reader.locale),
            utm=utm_line(lead.utm),
            requests=requests,
            reason_label=reason_label,
            call_back_due=call_back_due,
            offered_name=offered_name,
            offered_to_me=reader.staff_id is not None and reader.staff_id == lead.offered_to_id,
            missed_call=missed_call,
            # the lead score's one line, open leads only (a closed lead's outcome is known)
            score_line=score_line(score, reader.locale) if score is not None else None,
            limits={
                "name": NAME_LIMIT,
                "field": FIELD_LIMIT,
                "message": message_limit,
                "extra": EXTRA_LIMIT,
            },
        )
        if visible_length(text) <= TELEGRAM_TEXT_LIMIT or message_limit < 100:
            missed_open = bool(missed_call and missed_call["open"])
            return CardView(lead.id, text, card_actions(lead, reader, missed_open, dial))
        message_limit //= 2


def reader_for(staff: Staff | None, default_locale: str) -> Reader:
    """The team chat (no staff row) reads in the configured language."""
    if staff is None:
        return Reader(staff_id=None, role=None, locale=default_locale)
    return Reader(staff_id=staff.id, role=Role(staff.role), locale=staff.language or default_locale)


async def request_counts(session: AsyncSession, lead_ids: list[int]) -> dict[int, int]:
    """How many requests each lead holds: the one that opened it and those that joined it."""
    joined = await session.execute(
        select(LeadEvent.lead_id, func.count())
        .where(LeadEvent.lead_id.in_(lead_ids), LeadEvent.kind == "repeat_request")
        .group_by(LeadEvent.lead_id)
    )
    counts: dict[int, int] = {lead_id: count for lead_id, count in joined}
    return {lead_id: 1 + counts.get(lead_id, 0) for lead_id in lead_ids}


async def call_backs_due(session: AsyncSession, lead_ids: list[int]) -> dict[int, datetime]:
    """When each lead's open call-back is due (leads without one are left out)."""
    due = await session.execute(
        select(Task.lead_id, func.min(Task.due_at))
        .where(Task.lead_id.in_(lead_ids), Task.kind == CALL_BACK_TASK, Task.done_at.is_(None))
        .group_by(Task.lead_id)
    )
    return {lead_id: moment for lead_id, moment in due}


async def missed_calls(session: AsyncSession, lead_ids: list[int]) -> dict[int, MissedCalls]:
    """Each lead's latest missed-call task (leads without one are left out)."""
    tasks = await session.scalars(
        select(Task)
        .where(Task.lead_id.in_(lead_ids), Task.kind == MISSED_CALL_TASK)
        .order_by(Task.id)
    )
    found: dict[int, MissedCalls] = {}
    for task in tasks:
        data = task.data or {}
        last = datetime.fromisoformat(data["last_at"]) if data.get("last_at") else task.due_at
        back = data.get("called_back_at")
        found[task.lead_id] = MissedCalls(
            phone=str(data.get("phone", "")),
            count=task.count,
            last_at=last,
            due_at=task.due_at,
            open=task.done_at is None,
            called_back_at=datetime.fromisoformat(back) if back else task.done_at,
        )
    return found


def missed_call_lines(
    missed: MissedCalls | None, now: datetime, config: AppConfig, locale: str | None = None
) -> dict[str, object] | None:
    """What the card's missed-call lines say, in the team's zone."""
    if missed is None:
        return None
    retry = missed.open and missed.due_at > missed.last_at  # "no answer": tried, next try set
    return {
        "open": missed.open,
        "phone": missed.phone,
        "count": missed.count,
        "last": short_time(missed.last_at, now, config, locale),
        "next": short_time(missed.due_at, now, config, locale) if retry else None,
        "called_back": short_time(missed.called_back_at, now, config, locale)
        if missed.called_back_at and not missed.open
        else None,
    }


def card_as_seen_by(
    lead: Lead,
    staff: Staff | None,
    config: AppConfig,
    now: datetime,
    requests: int,
    call_back_due: datetime | None = None,
    missed: MissedCalls | None = None,
    score: LeadScore | None = None,
) -> tuple[CardView, str]:
    """The card of `lead` as `staff` (None: the team chat) sees it; `lead.owner` loaded."""
    reader = reader_for(staff, config.locale)
    reason = None
    if lead.close_reason:
        outcome = "refuse" if lead.status == LeadStatus.REFUSED else "junk"
        reason = config.close_reason(outcome, lead.close_reason)
    # a reason from the pickers, or one only the system gives ("stale")
    reason_label = (
        reason.label(reader.locale)
        if reason
        else system_reason_label(lead.close_reason, reader.locale, config)
    )
    view = card_view(
        lead,
        lead.owner.name if lead.owner else None,
        reader,
        now,
        reason_label=reason_label,
        requests=requests,
        call_back_due=local_time(call_back_due, config.zone, reader.locale)
        if call_back_due
        else None,
        offered_name=lead.offered_to.name if lead.offered_to_id and lead.offered_to else None,
        missed_call=missed_call_lines(missed, now, config, reader.locale),
        zone=config.zone,
        score=score,
        dial=config.telephony.click_to_call != "off",  # click-to-call (issue 17)
    )
    return view, reader.locale


async def card_for(
    session: AsyncSession, lead: Lead, staff_id: int | None, config: AppConfig, now: datetime
) -> tuple[CardView, str]:
    """The card of `lead` as the staff member `staff_id` (None: the team chat) sees it now.

    `lead.owner` must be loaded (bot.leads.actions.load_lead does)."""
    staff = await session.get(Staff, staff_id) if staff_id is not None else None
    requests = (await request_counts(session, [lead.id]))[lead.id]
    due = (await call_backs_due(session, [lead.id])).get(lead.id)
    missed = (await missed_calls(session, [lead.id])).get(lead.id)
    score = await score_for(session, lead, config)
    return card_as_seen_by(lead, staff, config, now, requests, due, missed, score)


async def remember_card(
    session: AsyncSession,
    lead: Lead,
    chat_id: int,
    message_id: int,
    staff_id: int | None,
    locale: str,
    now: datetime,
    version: int | None = None,
) -> int | None:
    """The card just sent to `chat_id` (opened from a list or a search, or sent fresh) is the
    one to keep up to date; the message id of the copy it replaces, if any, is returned.
    `version`: the lead's version the card shows (the lead's own when not given)."""
    drawn = lead.version if version is None else version
    card = await session.scalar(
        select(LeadCard).where(LeadCard.lead_id == lead.id, LeadCard.chat_id == chat_id)
    )
    replaced = None
    if card is None:
        try:
            async with session.begin_nested():  # the notifier may record its copy meanwhile
                session.add(
                    LeadCard(
                        lead_id=lead.id,
                        chat_id=chat_id,
                        message_id=message_id,
                        staff_id=staff_id,
                        locale=locale,
                        rendered_version=drawn,
                        created_at=now,
                    )
                )
        except IntegrityError:
            card = await session.scalar(
                select(LeadCard).where(LeadCard.lead_id == lead.id, LeadCard.chat_id == chat_id)
            )
    if card is not None:
        replaced = card.message_id if card.message_id != message_id else None
        card.message_id, card.staff_id, card.locale = message_id, staff_id, locale
        card.rendered_version = drawn
    await session.commit()
    return replaced
