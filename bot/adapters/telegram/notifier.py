"""The notifier: drains the outbox into the Bot API, inside Telegram's limits, at least once.

Woken the moment a transaction that wrote outbox rows commits (see storage.db), it claims
due rows, sends them lane by lane (one lane per chat, one per lead whose cards are edited,
so a chat waiting for its limit never holds up another), and records what happened:
sent (with the message id of every card), retried later (429, network errors, 5xx), or
given up on (403, 400, a card that cannot be rendered) with an event on the lead; a new card
given up on is told to the supervisors, and never holds back the other cards of its group.
A manager's answer to a client is settled together with what it means for the lead (the
client's wait ends, or the refusal is recorded) and the manager's notice of it. A report's
charts are drawn from the numbers their row holds when it is sent, as one photo or one album.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import partial
from typing import Any

from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
)
from aiogram.types import BufferedInputFile, InlineKeyboardMarkup
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.adapters.telegram.gate import one_attempt
from bot.adapters.telegram.pictures import send_pictures
from bot.common.clock import Clock, SystemClock
from bot.common.lifecycle import SUPERVISING
from bot.common.outbox import (
    alert_copies_of,
    cards_of,
    chats_awaiting_fresh_card,
    claim_due,
    enqueue,
    mark_failed,
    mark_retry,
    mark_sent,
    next_due_at,
    release,
    retry_postponed_now,
    text_message,
)
from bot.common.render import render
from bot.config import AppConfig
from bot.email.files import file_settled, file_to_send
from bot.intake.client_chat import (
    relayed_replies_gone,
    remember_relayed,
    reply_buttons_removed,
    reply_delivered,
    reply_not_delivered,
)
from bot.leads.actions import load_lead, load_leads
from bot.leads.cards import (
    CardView,
    card_as_seen_by,
    card_for,
    missed_calls,
    reader_for,
    remember_card,
    request_counts,
)
from bot.leads.reassign import may_own_leads
from bot.reports.album import Album, draw_album
from bot.scoring.scores import scores_for
from bot.sequences.stops import StopReason, person_said_stop
from bot.sla.alerts import AlertSubject, headline_context, settled_context, still_pending
from handlers.keyboards.escalation import alert_keyboard
from handlers.keyboards.lead import card_keyboard, missed_call_keyboard, reply_keyboard
from handlers.keyboards.sequences import follow_up_keyboard
from storage.db import SessionFactory
from storage.models import (
    AlertCopy,
    Lead,
    LeadCard,
    LeadEvent,
    OutboxKind,
    OutboxMessage,
    RelayedMessage,
    Staff,
    Task,
)

log = logging.getLogger("leadbot.notifier")
# Telegram allows a chat about a message a second: at that pace each card can be recorded
# before the next is sent. Above this many per second (limits lifted) a group goes at once.
ONE_BY_ONE_UP_TO = 5.0
CARD_GROUP = 50  # new cards for one chat read together (each recorded once sent)

IDLE_WAKE = timedelta(seconds=5)
UNRENDERABLE = "card could not be rendered"  # the start of such a row's last_error
# After a failed send, Telegram is asked (getMe) whether it answers, at growing intervals up to
# this: rows backing off after an outage go again at most this long after Telegram is back.
PROBE_FIRST, PROBE_MAX = 1.0, 5.0


class Result(enum.Enum):
    DONE = "done"  # sent, or nothing left to send
    GONE = "gone"  # the message to edit no longer exists
    FAILED = "failed"  # Telegram refused for good (bot blocked, bad request)
    RETRY = "retry"  # try again later


@dataclass(frozen=True)
class Outcome:
    result: Result
    error: str = ""
    retry_after: timedelta | None = None  # set by a 429: not a failed attempt, a wait
    value: Any = None
    recorded: bool = False  # already settled (sent or failed) in the sender's own transaction
    forbidden: bool = False  # FAILED with a 403: the user blocked the bot (or it was removed)


def _not_modified(exc: TelegramBadRequest) -> bool:
    return "message is not modified" in exc.message


def _message_gone(exc: TelegramBadRequest) -> bool:
    text = exc.message.lower()
    return "message to edit not found" in text or "message can't be edited" in text


@dataclass
class _LeadLock:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0  # holders and waiters: the entry goes when nobody needs it


def _with_headline(card: str, payload: dict[str, Any] | None, locale: str) -> str:
    """A card sent with a line on top saying why it came (a reassignment)."""
    headline = (payload or {}).get("headline")
    if not headline:
        return card
    line = render(f"{headline['template']}.html.j2", locale, **headline["context"])
    return f"{line}\n\n{card}"


class Notifier:
    def __init__(
        self,
        bot: Bot,
        sessions: SessionFactory,
        config: AppConfig,
        clock: Clock,
        *,
        delivery_clock: Clock | None = None,
        batch_size: int = 500,
        max_in_flight: int = 64,
        max_claimed: int = 2000,
    ) -> None:
        self._bot = bot
        self._sessions = sessions
        self._config = config
        self._clock = clock  # business time: what a card says ("5 min ago")
        self._delivery_clock = delivery_clock or SystemClock()  # retries and leases: real time
        self._batch_size = batch_size
        # a backlog (Telegram down, a flood of leads) stays in the table, not in memory
        self._max_claimed = max_claimed
        self._slots = asyncio.Semaphore(max_in_flight)
        self._wake = asyncio.Event()
        self._lanes: dict[tuple[str, int], list[OutboxMessage]] = {}
        self._lane_tasks: set[asyncio.Task[None]] = set()
        self._in_flight: set[int] = set()
        # one round of card edits per lead at a time: a refresh row and a card that arrived
        # after a change may both ask; the second then finds every copy up to date (an edit
        # repeated later would close a picker the manager has just opened on the card)
        self._refreshing: dict[int, _LeadLock] = {}
        self._stopping = False
        self._unsent: list[int] = []
        self._probe: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    @property
    def busy(self) -> bool:
        return bool(self._in_flight)

    async def stop(self, grace: float = 2.0) -> None:
        """Let sends in flight finish (for up to `grace` seconds), then stop."""
        self._stopping = True
        self.wake()
        if self._lane_tasks:
            _, waiting = await asyncio.wait(list(self._lane_tasks), timeout=grace)
            for task in waiting:  # e.g. waiting out a 429: its rows go back to the table
                task.cancel()
            await asyncio.gather(*waiting, return_exceptions=True)
        unsent = [*self._in_flight, *self._unsent]
        if unsent:  # hand unsent rows back at once instead of at the lease's end
            with contextlib.suppress(Exception):
                async with self._sessions() as session:
                    await release(session, unsent)
                    await session.commit()

    async def run(self) -> None:
        """Deliver until stopped or cancelled."""
        renew = asyncio.create_task(self._renew_leases())
        try:
            while not self._stopping:
                self._wake.clear()
                try:
                    if await self._claim():
                        continue
                    await self._sleep_until_due()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("outbox claim failed; retrying in 1s")
                    await asyncio.sleep(1)
        finally:
            renew.cancel()
            lanes = [] if self._stopping else list(self._lane_tasks)  # stop() lets them finish
            probe = [self._probe] if self._probe is not None else []
            for task in [*lanes, *probe]:
                task.cancel()
            await asyncio.gather(renew, *lanes, *probe, return_exceptions=True)

    async def _sleep_until_due(self) -> None:
        due = None
        if len(self._in_flight) < self._max_claimed:  # full: woken as rows settle
            async with self._sessions() as session:
                due = await next_due_at(session)
        wait = IDLE_WAKE
        if due is not None:
            wait = min(wait, max(due - self._delivery_clock.now(), timedelta(milliseconds=10)))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), wait.total_seconds())

    async def _claim(self) -> int:
        room = min(self._batch_size, self._max_claimed - len(self._in_flight))
        if room <= 0:
            return 0  # woken again as rows settle
        now = self._delivery_clock.now()
        async with self._sessions() as session:
            lease = self._config.telegram.claim_lease
            rows = await claim_due(session, now, room, lease, held=self._in_flight)
        fresh = [row for row in rows if row.id not in self._in_flight]
        for row in fresh:
            self._in_flight.add(row.id)
            key = (
                ("lead", row.lead_id or 0)
                if row.kind == OutboxKind.CARD_REFRESH
                else ("chat", row.chat_id or 0)
            )
            lane = self._lanes.get(key)
            if lane is not None:
                lane.append(row)
                continue
            self._lanes[key] = [row]
            task = asyncio.create_task(self._run_lane(key))
            self._lane_tasks.add(task)
            task.add_done_callback(self._lane_tasks.discard)
        return len(fresh)

    async def _renew_leases(self) -> None:
        """Rows waiting in a lane keep their claim, so no other instance sends them meanwhile."""
        async with self._sessions() as session:
            if session.bind.dialect.name == "sqlite":
                return  # claims live in memory there (see claim_due)
        lease = self._config.telegram.claim_lease
        while True:
            await asyncio.sleep(lease.total_seconds() / 3)
            ids = list(self._in_flight)
            if not ids:
                continue
            with contextlib.suppress(Exception):
                async with self._sessions() as session:
                    until = self._delivery_clock.now() + lease
                    for start in range(0, len(ids), 500):
                        await session.execute(
                            update(OutboxMessage)
                            .where(OutboxMessage.id.in_(ids[start : start + 500]))
                            .values(claimed_until=until)
                        )
                    await session.commit()

    async def _run_lane(self, key: tuple[str, int]) -> None:
        lane = self._lanes[key]
        try:
            while lane and not self._stopping:
                rows = [lane.pop(0)]
                kind = rows[0].kind
                if kind == OutboxKind.CARD_REFRESH:
                    # several refreshes of one lead waiting together need one round of edits
                    rows += [r for r in lane if r.kind == OutboxKind.CARD_REFRESH]
                    lane[:] = [r for r in lane if r.kind != OutboxKind.CARD_REFRESH]
                elif kind == OutboxKind.CARD:
                    # new cards queued for one chat go out together: one read, one record
                    while lane and lane[0].kind == OutboxKind.CARD and len(rows) < CARD_GROUP:
                        rows.append(lane.pop(0))
                outcomes = await self._deliver_safely(rows)
                await self._settle_each(rows, outcomes)
                retry = next((o for o in outcomes if o.result is Result.RETRY), None)
                if retry is not None and lane:
                    # keep this chat's order: the rest waits for the row that has to wait
                    # (taken off the lane before the await: rows claimed meanwhile must stay)
                    rest = lane[:]
                    lane.clear()
                    await self._settle(rest, retry, count_attempt=False)
        finally:
            self._lanes.pop(key, None)
            leftover = [row.id for row in lane]
            # no longer renewed: another sender may take them once their lease ends
            self._in_flight.difference_update(leftover)
            if self._stopping:
                self._unsent.extend(leftover)

    async def _deliver_safely(self, rows: list[OutboxMessage]) -> list[Outcome]:
        """One outcome per row; a crash retries them all, losing none."""
        try:
            if rows[0].kind == OutboxKind.CARD:
                return await self._send_cards(rows)
            if rows[0].kind == OutboxKind.CARD_REFRESH:
                return [await self._refresh_cards(rows[0].lead_id or 0)] * len(rows)
            if rows[0].kind == OutboxKind.COPY:
                return [await self._copy(rows[0])]
            if rows[0].kind == OutboxKind.ALERT:
                return [await self._send_alert(rows[0])]
            if rows[0].kind == OutboxKind.CLIENT_ANSWER:
                return [await self._send_client_answer(rows[0])]
            if rows[0].kind == OutboxKind.CHARTS:
                return [await self._send_charts(rows[0])]
            if rows[0].kind == OutboxKind.DOCUMENT:
                return [await self._send_document(rows[0])]
            return [await self._send_text(rows[0])]
        except Exception as exc:  # a bug or the database: never lose the row
            log.exception("delivery crashed outbox=%s lead=%s", rows[0].id, rows[0].lead_id)
            return [Outcome(Result.RETRY, error=repr(exc))] * len(rows)

    async def _settle_each(self, rows: list[OutboxMessage], outcomes: list[Outcome]) -> None:
        done = [
            row
            for row, o in zip(rows, outcomes, strict=True)
            if o.result in (Result.DONE, Result.GONE)
        ]
        if done:
            recorded = all(o.recorded for o in outcomes if o.result is Result.DONE)
            await self._settle(done, Outcome(Result.DONE, recorded=recorded))
        for row, outcome in zip(rows, outcomes, strict=True):
            if outcome.result not in (Result.DONE, Result.GONE):
                await self._settle([row], outcome)

    async def _settle(
        self, rows: list[OutboxMessage], outcome: Outcome, count_attempt: bool = True
    ) -> None:
        ids = [row.id for row in rows]
        try:
            if outcome.recorded:
                return
            async with self._sessions() as session:
                now = self._delivery_clock.now()
                if outcome.result in (Result.DONE, Result.GONE):
                    await mark_sent(session, ids, now)
                elif outcome.result is Result.FAILED:
                    for row in rows:
                        await mark_failed(session, row.id, row.attempts + 1, outcome.error)
                        if row.lead_id is not None:
                            session.add(
                                LeadEvent(
                                    lead_id=row.lead_id,
                                    kind="delivery_failed",
                                    data={"chat_id": row.chat_id, "error": outcome.error[:300]},
                                    created_at=self._clock.now(),
                                )
                            )
                    await self._tell_supervisors(session, rows, outcome.error)
                    log.warning(
                        "delivery given up outbox=%s lead=%s chat=%s error=%s",
                        ids,
                        rows[0].lead_id,
                        rows[0].chat_id,
                        outcome.error,
                    )
                else:
                    for row in rows:
                        attempts = row.attempts + (
                            1 if count_attempt and not outcome.retry_after else 0
                        )
                        delay = outcome.retry_after or self._backoff(attempts)
                        await mark_retry(session, row.id, attempts, now + delay, outcome.error)
                    if outcome.retry_after is None:
                        self._watch_for_outage()
                    log.info(
                        "delivery postponed outbox=%s lead=%s error=%s",
                        ids,
                        rows[0].lead_id,
                        outcome.error,
                    )
                await session.commit()
        finally:
            full = len(self._in_flight) >= self._max_claimed
            self._in_flight.difference_update(ids)
        if outcome.result is Result.RETRY or full:
            # a retry changes the next due time; a full claim has room again for the backlog
            self.wake()

    async def _tell_supervisors(
        self, session: AsyncSession, rows: list[OutboxMessage], error: str
    ) -> None:
        """A new card given up on: every active supervisor and admin gets a short message
        (which lead, whose chat, why), through the outbox in the same transaction. Only for
        cards, so a message that fails in turn tells nobody (no loop)."""
        cards = [row for row in rows if row.kind == OutboxKind.CARD and row.lead_id is not None]
        if not cards:
            return
        people = list(
            await session.scalars(
                select(Staff).where(
                    Staff.is_active.is_(True),
                    (Staff.role.in_(SUPERVISING)) | (Staff.id.in_([r.staff_id for r in cards])),
                )
            )
        )
        names = {person.id: person.name for person in people}
        bosses = [person for person in people if person.role in SUPERVISING]
        now = self._clock.now()
        context = {"unrenderable": error.startswith(UNRENDERABLE), "error": error[:200]}
        await enqueue(
            session,
            [
                text_message(
                    row.lead_id,
                    boss.telegram_id,
                    boss.id,
                    "delivery_failed",
                    {**context, "lead_id": row.lead_id, "recipient": names.get(row.staff_id)},
                    now,
                )
                for row in cards
                for boss in bosses
            ],
        )

    def _watch_for_outage(self) -> None:
        if self._probe is None or self._probe.done():
            self._probe = asyncio.create_task(self._probe_until_answered(), name="probe")

    async def _probe_until_answered(self) -> None:
        """A send failed (5xx, network): is Telegram down? Asked at 1 s, 2 s, 4 s, then every
        5 s. If it answers at once, it is not down (the rows keep their back-off); once it
        answers after failing, every row backing off is due now, not at its back-off's end
        (which after a long outage is minutes away)."""
        delay, failed = PROBE_FIRST, False
        while not self._stopping:
            await asyncio.sleep(delay)
            try:
                with one_attempt():
                    await self._bot.get_me()
            except TelegramRetryAfter:
                pass  # answering, if only to say wait: the 429 rows wait their retry_after
            except Exception:
                failed, delay = True, min(delay * 2, PROBE_MAX)
                continue
            if failed:
                async with self._sessions() as session:
                    due = await retry_postponed_now(session, self._delivery_clock.now())
                    await session.commit()
                log.info("telegram answers again: %s postponed row(s) due now", due)
                self.wake()
            return

    def _backoff(self, attempts: int) -> timedelta:
        limits = self._config.telegram
        return min(limits.retry_max, limits.retry_base * (2 ** max(0, attempts - 1)))

    async def _call(self, chat_id: int, request: Callable[[], Awaitable[Any]]) -> Outcome:
        """One Bot API call to `chat_id`, paced by the limits, its failure classified."""
        async with self._slots:
            try:
                # paced by the bot's TelegramGate; tried once: the row itself is retried
                with one_attempt():
                    return Outcome(Result.DONE, value=await request())
            except TelegramRetryAfter as exc:  # the gate has paused every sender meanwhile
                return Outcome(Result.RETRY, exc.message, timedelta(seconds=exc.retry_after))
            except TelegramForbiddenError as exc:
                return Outcome(Result.FAILED, exc.message, forbidden=True)
            except TelegramBadRequest as exc:
                if _not_modified(exc):
                    return Outcome(Result.DONE)
                if _message_gone(exc):
                    return Outcome(Result.GONE, exc.message)
                return Outcome(Result.FAILED, exc.message)
            except Exception as exc:  # network errors, 5xx, garbage answers: try again later
                return Outcome(Result.RETRY, f"{type(exc).__name__}: {exc}"[:300])

    async def _card(
        self, session: AsyncSession, lead: Lead, staff_id: int | None
    ) -> tuple[CardView, str]:
        return await card_for(session, lead, staff_id, self._config, self._clock.now())

    async def _send_cards(self, rows: list[OutboxMessage]) -> list[Outcome]:
        """New cards for one chat, one outcome per row.

        The leads are read in one go (a lead burst must not cost a read per card); each card
        is recorded as soon as Telegram took it, before the next goes (Telegram's pace allows
        a chat a card a second: a commit per card costs nothing there, and a crash repeats at
        most one card per chat).
        """
        chat_id = rows[0].chat_id
        assert chat_id is not None
        lead_ids = [row.lead_id for row in rows if row.lead_id is not None]
        async with self._sessions() as session:
            leads = {lead.id: lead for lead in await load_leads(session, lead_ids)}
            shown = set(
                await session.scalars(
                    select(LeadCard.lead_id).where(
                        LeadCard.chat_id == chat_id, LeadCard.lead_id.in_(lead_ids)
                    )
                )
            )
            requests = await request_counts(session, lead_ids)
            missed = await missed_calls(session, lead_ids)
            scores = await scores_for(session, leads.values(), self._config)
            viewers = {row.staff_id for row in rows if row.staff_id is not None}
            staff = {staff_id: await session.get(Staff, staff_id) for staff_id in viewers}
        now = self._clock.now()

        async def send(row: OutboxMessage) -> tuple[Outcome, LeadCard | None]:
            lead = leads.get(row.lead_id or 0)
            fresh = bool((row.payload or {}).get("fresh"))
            if lead is None or (lead.id in shown and not fresh):  # sent before a crash: edit
                return Outcome(Result.DONE), None
            viewer = staff.get(row.staff_id) if row.staff_id is not None else None
            try:
                view, locale = card_as_seen_by(
                    lead,
                    viewer,
                    self._config,
                    now,
                    requests[lead.id],
                    missed=missed.get(lead.id),
                    score=scores.get(lead.id),
                )
                markup = card_keyboard(view, locale)
                text = _with_headline(view.text, row.payload, locale)
                text.encode()  # what no request can carry (a lone surrogate) fails here
            except Exception as exc:  # this card never will render: fail it, not its group
                log.exception("card not rendered lead=%s chat=%s", lead.id, chat_id)
                error = f"{UNRENDERABLE}: {type(exc).__name__}: {exc}"[:300]
                # the reason itself may quote the text that could not be encoded
                safe = error.encode("utf-8", "backslashreplace").decode().replace("\x00", "")
                return Outcome(Result.FAILED, safe), None
            outcome = await self._call(
                chat_id,
                partial(
                    self._bot.send_message,
                    chat_id=chat_id,
                    text=text,
                    reply_markup=markup,
                ),
            )
            if outcome.result is not Result.DONE:
                return outcome, None
            return outcome, LeadCard(
                lead_id=lead.id,
                chat_id=chat_id,
                message_id=outcome.value.message_id,
                staff_id=row.staff_id,
                locale=locale,
                rendered_version=lead.version,
                created_at=self._clock.now(),
            )

        if chat_id < 0 or self._config.telegram.per_chat_per_second <= ONE_BY_ONE_UP_TO:
            # one at a time, each recorded before the next goes: a crash (kill -9) between a
            # send and its record repeats at most that one card in this chat
            return [await self._record_sent(row, *await send(row)) for row in rows]
        # the chat's limit lifted (a bench, a local Bot API server): a commit per card would
        # be the bottleneck (3.4 s behind at 100 cards/s on SQLite), so the group goes side
        # by side and is recorded in one transaction; a crash may repeat that group
        results = await asyncio.gather(*(send(row) for row in rows))
        pairs = list(zip(rows, results, strict=True))
        # a fresh card replaces a copy under its lead's lock (_record_sent): not grouped
        grouped = [(row, card) for row, (_, card) in pairs if card and not row.payload.get("fresh")]
        if grouped:
            await self._record_cards([card for _, card in grouped], [row.id for row, _ in grouped])
        recorded = {row.id for row, _ in grouped}
        outcomes: list[Outcome] = []
        for row, (outcome, card) in pairs:
            if row.id in recorded:
                outcomes.append(replace(outcome, recorded=True))
            else:
                outcomes.append(await self._record_sent(row, outcome, card))
        return outcomes

    async def _record_sent(
        self, row: OutboxMessage, outcome: Outcome, card: LeadCard | None
    ) -> Outcome:
        if card is None:
            return outcome
        if row.payload.get("fresh"):  # replaces a copy: recorded under its lead's lock
            await self._record_fresh_card(card, row.id)
        else:
            await self._record_cards([card], [row.id])
        return replace(outcome, recorded=True)

    async def _record_cards(self, cards: list[LeadCard], done: list[int]) -> None:
        """Store the cards' message ids and mark their rows sent, in one transaction."""
        async with self._sessions() as session:
            # a manager may have opened the same lead from a list meanwhile: that copy is kept
            chats = {card.chat_id for card in cards}
            rows = await session.execute(
                select(LeadCard.lead_id, LeadCard.chat_id).where(
                    LeadCard.chat_id.in_(chats),
                    LeadCard.lead_id.in_([card.lead_id for card in cards]),
                )
            )
            known = {(lead_id, chat_id) for lead_id, chat_id in rows}
            session.add_all([c for c in cards if (c.lead_id, c.chat_id) not in known])
            await mark_sent(session, done, self._delivery_clock.now())
            await session.flush()
            versions = dict(
                (
                    await session.execute(
                        select(Lead.id, Lead.version).where(
                            Lead.id.in_([card.lead_id for card in cards])
                        )
                    )
                ).all()
            )
            await session.commit()
        for card in cards:
            log.info(
                "card sent lead=%s chat=%s message=%s", card.lead_id, card.chat_id, card.message_id
            )
        for card in cards:
            if versions.get(card.lead_id) != card.rendered_version:
                await self._refresh_cards(card.lead_id)  # it changed while the card was on the way

    async def _record_fresh_card(self, card: LeadCard, row_id: int) -> None:
        """A fresh card becomes the chat's copy kept current; the older copy loses its buttons.
        Under the lead's refresh lock, so a refresh never re-draws the older copy after."""
        async with self._lead_lock(card.lead_id):
            async with self._sessions() as session:
                await mark_sent(session, [row_id], self._delivery_clock.now())
                lead = await load_lead(session, card.lead_id)
                assert lead is not None  # leads are never deleted
                changed = lead.version != card.rendered_version
                older = await self._card(session, lead, card.staff_id)
                # committed with the row marked sent
                replaced = await remember_card(
                    session,
                    lead,
                    card.chat_id,
                    card.message_id,
                    card.staff_id,
                    card.locale,
                    card.created_at,
                    version=card.rendered_version,
                )
            log.info(
                "fresh card sent lead=%s chat=%s message=%s replaces=%s",
                card.lead_id,
                card.chat_id,
                card.message_id,
                replaced,
            )
            if replaced is not None:
                # its one edit: the lead as it is now (the refresh left it alone), no buttons
                await self._call(
                    card.chat_id,
                    partial(
                        self._bot.edit_message_text,
                        chat_id=card.chat_id,
                        message_id=replaced,
                        text=older[0].text,
                        reply_markup=None,
                    ),
                )
            if changed:
                await self._refresh_stale_cards(card.lead_id)

    @contextlib.asynccontextmanager
    async def _lead_lock(self, lead_id: int) -> AsyncIterator[None]:
        """One round of card edits per lead at a time (see _refreshing)."""
        entry = self._refreshing.setdefault(lead_id, _LeadLock())
        entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.users -= 1
            if entry.users == 0:
                del self._refreshing[lead_id]

    async def _refresh_cards(self, lead_id: int) -> Outcome:
        async with self._lead_lock(lead_id):
            return await self._refresh_stale_cards(lead_id)

    async def _refresh_stale_cards(self, lead_id: int) -> Outcome:
        async with self._sessions() as session:
            lead = await load_lead(session, lead_id)
            if lead is None:
                return Outcome(Result.DONE)
            replaced_soon = await chats_awaiting_fresh_card(session, lead_id)
            stale = [
                card
                for card in await cards_of(session, lead_id)
                if card.rendered_version < lead.version and card.chat_id not in replaced_soon
            ]
            views = [(card, *await self._card(session, lead, card.staff_id)) for card in stale]
            alerts = [
                (copy, *await self._alert_view(session, lead, copy))
                for copy in await alert_copies_of(session, lead_id)
                if copy.rendered_version < lead.version
            ]
            # the client's messages whose Reply no longer works for their chat (closed, or
            # someone else's): only those still showing it, so each costs one edit, ever
            relayed = await relayed_replies_gone(session, lead)
        outcomes = await asyncio.gather(
            *(self._edit_card(card, view, locale, lead.version) for card, view, locale in views),
            *(
                self._edit_alert(copy, text, markup, settled, lead.version)
                for copy, text, markup, settled in alerts
            ),
            *(self._strip_reply(message) for message in relayed),
        )
        retry = [o for o in outcomes if o.result is Result.RETRY]
        return retry[0] if retry else Outcome(Result.DONE)

    async def _edit_card(
        self, card: LeadCard, view: CardView, locale: str, version: int
    ) -> Outcome:
        outcome = await self._call(
            card.chat_id,
            lambda: self._bot.edit_message_text(
                chat_id=card.chat_id,
                message_id=card.message_id,
                text=view.text,
                reply_markup=card_keyboard(view, locale),
            ),
        )
        if outcome.result is Result.RETRY:
            return outcome
        async with self._sessions() as session:
            if outcome.result is Result.GONE:
                await session.execute(delete(LeadCard).where(LeadCard.id == card.id))
            else:  # done, or refused for good: either way this version needs no more edits
                await session.execute(
                    update(LeadCard).where(LeadCard.id == card.id).values(rendered_version=version)
                )
            await session.commit()
        log.info(
            "card edited lead=%s chat=%s message=%s result=%s",
            card.lead_id,
            card.chat_id,
            card.message_id,
            outcome.result.value,
        )
        return outcome

    async def _strip_reply(self, message: RelayedMessage) -> Outcome:
        """A client's relayed message loses its Reply button, which no longer works for that
        chat. Recorded whatever Telegram says but a retry (gone, not modified, refused), so it
        is never edited again; a reopened lead does not bring the button back (a native reply
        to the message still answers the client wherever reply_target allows)."""
        outcome = await self._call(
            message.chat_id,
            partial(
                self._bot.edit_message_reply_markup,
                chat_id=message.chat_id,
                message_id=message.message_id,
                reply_markup=None,
            ),
        )
        if outcome.result is Result.RETRY:
            return outcome  # the lead's refresh row is retried, and this message with it
        async with self._sessions() as session:
            await reply_buttons_removed(session, message.id, self._clock.now())
        log.info(
            "reply removed lead=%s chat=%s message=%s result=%s",
            message.lead_id,
            message.chat_id,
            message.message_id,
            outcome.result.value,
        )
        return outcome

    async def _send_text(self, row: OutboxMessage) -> Outcome:
        assert row.chat_id is not None
        locale = await self._locale_of(row)
        payload = row.payload
        text = render(f"{payload['template']}.html.j2", locale, **payload.get("context", {}))
        markup = (
            reply_keyboard(row.lead_id, locale) if payload.get("reply") and row.lead_id else None
        )
        if payload.get("calls") and row.lead_id:  # a missed call: Called back / No answer
            markup = missed_call_keyboard(row.lead_id, locale)
        follow_up = payload.get("sequence")  # a follow-up step's message to a client
        if follow_up and follow_up.get("buttons"):
            markup = follow_up_keyboard(int(follow_up["enrolment"]), locale)
        outcome = await self._call(
            row.chat_id,
            lambda: self._bot.send_message(chat_id=row.chat_id, text=text, reply_markup=markup),
        )
        if outcome.result is Result.DONE:
            log.info(
                "message sent lead=%s chat=%s template=%s",
                row.lead_id,
                row.chat_id,
                payload["template"],
            )
            if markup is not None and payload.get("reply"):
                await self._remember_relayed(row, outcome)
        if follow_up and outcome.forbidden:  # the client blocked the bot: no follow-up again
            async with self._sessions() as session:
                await person_said_stop(session, row.chat_id, StopReason.BLOCKED, self._clock.now())
                await session.commit()
        return outcome

    async def _locale_of(self, row: OutboxMessage) -> str:
        """The recipient's language, unless the row's words were chosen in one already."""
        pinned = (row.payload or {}).get("locale")
        if pinned:
            return str(pinned)
        async with self._sessions() as session:
            staff = await session.get(Staff, row.staff_id) if row.staff_id else None
        return reader_for(staff, self._config.locale).locale

    async def _send_charts(self, row: OutboxMessage) -> Outcome:
        """A report's charts, drawn now in the reader's language from the numbers the row
        holds: one photo, or one album (a single call, so it arrives whole or is retried
        whole). A row that cannot be drawn never will be: failed, not retried."""
        assert row.chat_id is not None
        locale = await self._locale_of(row)
        try:
            album = Album.of_payload(row.payload)
            # CPU-bound (~0.1-0.2 s a chart): off the event loop, so other lanes go on
            pictures = await asyncio.to_thread(draw_album, album, locale)
        except Exception as exc:
            log.exception("charts not drawn outbox=%s chat=%s", row.id, row.chat_id)
            return Outcome(Result.FAILED, f"charts could not be drawn: {exc!r}"[:300])
        outcome = await self._call(
            row.chat_id, partial(send_pictures, self._bot, row.chat_id, pictures)
        )
        if outcome.result is Result.DONE:
            log.info("charts sent chat=%s charts=%s", row.chat_id, ",".join(album.charts))
        return outcome

    async def _send_alert(self, row: OutboxMessage) -> Outcome:
        """A reminder or an escalation: its headline over the lead's card as this reader sees
        it now, with the card's buttons (a reminder) or Reassign / Take over / Snooze (an
        escalation). Done meanwhile (taken, answered, closed): dropped, nothing sent."""
        assert row.chat_id is not None and row.lead_id is not None
        subject = AlertSubject.of(row.payload)
        about = AlertCopy(payload=row.payload, staff_id=row.staff_id)  # as it will be recorded
        async with self._sessions() as session:
            lead = await load_lead(session, row.lead_id)
            drawn = await self._alert_view(session, lead, about) if lead is not None else None
        if lead is None or drawn is None or drawn[2]:
            log.info(
                "alert dropped lead=%s chat=%s kind=%s: done meanwhile",
                row.lead_id,
                row.chat_id,
                subject.kind,
            )
            return Outcome(Result.DONE)
        text, markup, _ = drawn
        outcome = await self._call(
            row.chat_id,
            partial(self._bot.send_message, chat_id=row.chat_id, text=text, reply_markup=markup),
        )
        if outcome.result is Result.DONE:
            log.info(
                "alert sent lead=%s chat=%s kind=%s step=%s",
                row.lead_id,
                row.chat_id,
                subject.kind,
                subject.step,
            )
            await self._record_alert_copy(row, lead.version, outcome)
        return outcome

    async def _record_alert_copy(self, row: OutboxMessage, version: int, outcome: Outcome) -> None:
        """The alert shows the lead: it is kept true like a card (a change of the lead made
        while it was in flight is drawn by the refresh this row asks for)."""
        message_id = getattr(outcome.value, "message_id", None)
        if row.chat_id is None or row.lead_id is None or message_id is None:
            return
        async with self._sessions() as session:
            session.add(
                AlertCopy(
                    lead_id=row.lead_id,
                    chat_id=row.chat_id,
                    message_id=message_id,
                    staff_id=row.staff_id,
                    payload=dict(row.payload),
                    rendered_version=version,
                    created_at=self._clock.now(),
                )
            )
            await session.commit()
            lead = await session.get(Lead, row.lead_id)
            changed = lead is not None and lead.version > version
        if changed:
            await self._refresh_cards(row.lead_id)

    async def _alert_view(
        self, session: AsyncSession, lead: Lead, copy: AlertCopy
    ) -> tuple[str, InlineKeyboardMarkup | None, bool]:
        """An alert message as it should read now: its headline and the card with the buttons
        that still work while the matter is pending; what settled it and no buttons after."""
        subject = AlertSubject.of(copy.payload)
        task = await session.get(Task, subject.task_id) if subject.task_id else None
        view, locale = await self._card(session, lead, copy.staff_id)
        if not still_pending(subject, lead, task):
            context = settled_context(subject, lead, task, self._clock.now(), self._config)
            return f"{render('sla_settled.html.j2', locale, **context)}\n\n{view.text}", None, True
        headline = render(
            "sla_alert.html.j2", locale, **headline_context(subject, lead, task, self._config)
        )
        reader = await session.get(Staff, copy.staff_id) if copy.staff_id else None
        markup = alert_keyboard(
            subject, True, view, lead.version, self._config, locale, may_own_leads(reader)
        )
        return f"{headline}\n\n{view.text}", markup, False

    async def _edit_alert(
        self,
        copy: AlertCopy,
        text: str,
        markup: InlineKeyboardMarkup | None,
        settled: bool,
        version: int,
    ) -> Outcome:
        outcome = await self._call(
            copy.chat_id,
            lambda: self._bot.edit_message_text(
                chat_id=copy.chat_id, message_id=copy.message_id, text=text, reply_markup=markup
            ),
        )
        if outcome.result is Result.RETRY:
            return outcome
        async with self._sessions() as session:
            if outcome.result is Result.GONE:
                await session.execute(delete(AlertCopy).where(AlertCopy.id == copy.id))
            else:
                values: dict[str, Any] = {"rendered_version": version}
                if settled:
                    values["settled_at"] = self._clock.now()
                await session.execute(
                    update(AlertCopy).where(AlertCopy.id == copy.id).values(**values)
                )
            await session.commit()
        log.info(
            "alert edited lead=%s chat=%s message=%s settled=%s result=%s",
            copy.lead_id,
            copy.chat_id,
            copy.message_id,
            settled,
            outcome.result.value,
        )
        return outcome

    async def _copy(self, row: OutboxMessage) -> Outcome:
        """A client's photo, document, voice... copied into a staff chat, with Reply."""
        assert row.chat_id is not None and row.lead_id is not None
        async with self._sessions() as session:
            staff = await session.get(Staff, row.staff_id) if row.staff_id else None
        markup = reply_keyboard(row.lead_id, reader_for(staff, self._config.locale).locale)
        payload = row.payload
        outcome = await self._call(
            row.chat_id,
            lambda: self._bot.copy_message(
                chat_id=row.chat_id,
                from_chat_id=payload["from_chat_id"],
                message_id=payload["message_id"],
                reply_markup=markup,
            ),
        )
        if outcome.result is Result.DONE:
            log.info("message copied lead=%s chat=%s", row.lead_id, row.chat_id)
            await self._remember_relayed(row, outcome)
        return outcome

    async def _send_document(self, row: OutboxMessage) -> Outcome:
        """A file from a client's e-mail, as a document with Reply (bot/email/files.py); its
        bytes are dropped once the last chat waiting for it is served."""
        assert row.chat_id is not None and row.lead_id is not None
        attachment_id = int(row.payload["attachment_id"])
        async with self._sessions() as session:
            stored = await file_to_send(session, attachment_id)
            staff = await session.get(Staff, row.staff_id) if row.staff_id else None
        if stored is None or stored.data is None:
            return Outcome(Result.FAILED, "the file is no longer kept")
        locale = reader_for(staff, self._config.locale).locale
        caption = render("email_file.html.j2", locale, file_name=stored.name, lead_id=row.lead_id)
        document = BufferedInputFile(stored.data, stored.name)
        outcome = await self._call(
            row.chat_id,
            lambda: self._bot.send_document(
                chat_id=row.chat_id,
                document=document,
                caption=caption,
                reply_markup=reply_keyboard(row.lead_id or 0, locale),
            ),
        )
        if outcome.result is Result.DONE:
            log.info("document sent lead=%s chat=%s", row.lead_id, row.chat_id)
            await self._remember_relayed(row, outcome)
        if outcome.result is not Result.RETRY:
            async with self._sessions() as session:
                await file_settled(session, attachment_id, row.id)
        return outcome

    async def _send_client_answer(self, row: OutboxMessage) -> Outcome:
        """A manager's answer in the client's chat: their text as written, or their photo,
        file, voice... copied. What became of it is recorded with the row's own mark, in one
        transaction, so a restart neither repeats the manager's news nor loses it: delivered,
        the client's wait ends and the manager is told; refused for good (the client blocked
        the bot, or another 4xx), that is recorded and the manager is told why. A retry
        (429, 5xx, network) changes nothing: the row is tried again."""
        assert row.chat_id is not None and row.lead_id is not None
        payload = row.payload
        if "html" in payload:
            request = partial(self._bot.send_message, chat_id=row.chat_id, text=payload["html"])
        else:
            request = partial(
                self._bot.copy_message,
                chat_id=row.chat_id,
                from_chat_id=payload["from_chat_id"],
                message_id=payload["message_id"],
            )
        outcome = await self._call(row.chat_id, request)
        if outcome.result is Result.RETRY:
            return outcome
        delivered = outcome.result is Result.DONE
        async with self._sessions() as session:
            now = self._clock.now()
            if delivered:
                await reply_delivered(session, row, now, self._config)
                await mark_sent(session, [row.id], self._delivery_clock.now())
            else:  # GONE cannot come of a send; counted as refused all the same
                await reply_not_delivered(session, row, outcome.forbidden, outcome.error, now)
                await mark_failed(session, row.id, row.attempts + 1, outcome.error)
            await session.commit()
        if delivered:
            log.info("answer delivered lead=%s chat=%s", row.lead_id, row.chat_id)
        else:
            log.warning(
                "answer not delivered lead=%s chat=%s error=%s",
                row.lead_id,
                row.chat_id,
                outcome.error,
            )
        result = Result.DONE if delivered else Result.FAILED
        return replace(outcome, result=result, recorded=True)

    async def _remember_relayed(self, row: OutboxMessage, outcome: Outcome) -> None:
        """So that replying to this message in Telegram answers the lead's client."""
        message_id = getattr(outcome.value, "message_id", None)
        if row.chat_id is None or row.lead_id is None or message_id is None:
            return
        async with self._sessions() as session:
            works = await remember_relayed(
                session, row.chat_id, message_id, row.lead_id, row.staff_id, self._clock.now()
            )
        if not works:  # the lead changed on the way: its Reply goes, under the lead's lock
            await self._refresh_cards(row.lead_id)
