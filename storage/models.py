"""The database schema: every fact leadbot knows lives in these tables."""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, orm_insert_sentinel, relationship


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend (SQLite drops the zone, so it is put back on read)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware UTC time")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON}


class Role(enum.StrEnum):
    MANAGER = "manager"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class LeadStatus(enum.StrEnum):
    NEW = "new"
    IN_WORK = "in_work"
    CALL_BACK = "callback"
    CONVERTED = "converted"
    REFUSED = "refused"
    JUNK = "junk"


OPEN_STATUSES = (LeadStatus.NEW, LeadStatus.IN_WORK, LeadStatus.CALL_BACK)
CALL_BACK_TASK = "callback"  # Task.kind of a scheduled call-back
TELEGRAM_SOURCE = "telegram"  # Lead.source of a client who wrote to the bot
EMAIL_SOURCE = "email"  # Lead.source of a client who wrote to the team's address
MISSED_CALL_TASK = "missed_call"  # call back a client whose call nobody answered
ANSWER_TASK = "answer"  # a client's message waits for an answer


class OutboxKind(enum.StrEnum):
    CARD = "card"  # send a lead card to one chat
    CARD_REFRESH = "card_refresh"  # edit every sent copy of a lead's card
    TEXT = "text"  # a message rendered from a template
    ALERT = "alert"  # a reminder or an escalation about one lead: its card with a headline
    COPY = "copy"  # a client's photo, document, voice... copied to a manager (copyMessage)
    CLIENT_ANSWER = "client_answer"  # a manager's answer to a client, in the client's chat
    CHARTS = "charts"  # a report's charts, drawn when sent: one photo, or an album of them
    DOCUMENT = "document"  # a file that came with a client's e-mail (email_attachments)


class OutboxState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Lets SQLAlchemy insert a batch of rows in one statement on SQLite and still tell which
    # generated id is whose (without it every row of a group commit is its own INSERT).
    _sentinel: Mapped[int] = orm_insert_sentinel()
    name: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(32), index=True)
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    telegram_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    # the name folded for comparison ("ivan petrov"): finds a possible duplicate by name
    name_key: Mapped[str | None] = mapped_column(String(200), index=True)
    created_at: Mapped[datetime]
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    # --- follow-up sequences (issue 16) ---
    # how the client wants to be reached (ContactChannel; NULL: not known): set by a manager
    # on the card, or learned from the channel the client answers on
    preferred_channel: Mapped[str | None] = mapped_column(String(16))
    # where the person first came from (the first lead's source)
    first_origin: Mapped[str | None] = mapped_column(String(64))
    # the client said stop (/stop, Not interested) or blocked the bot: no sequence, ever again
    sequences_stopped_at: Mapped[datetime | None]


class Staff(Base):
    __tablename__ = "staff"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[Role] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    on_duty: Mapped[bool] = mapped_column(Boolean, default=True)
    language: Mapped[str | None] = mapped_column(String(8))
    # service tags the distribution rules match ("senior", "group_tour")
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    # most open leads this manager may hold; None: no limit
    capacity: Mapped[int | None] = mapped_column(Integer)
    # the internal number on the office PBX ("101"): call events name staff by it
    extension: Mapped[str | None] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime]


class Lead(Base):
    __tablename__ = "leads"
    __table_args__ = (
        UniqueConstraint("source", "external_id", name="uq_leads_source_external_id"),
        # the overdue sweep: open leads by status and age
        Index("ix_leads_status_created_at", "status", "created_at"),
        Index("ix_leads_contact_id_status", "contact_id", "status"),
        Index("ix_leads_owner_id_status", "owner_id", "status"),
        Index("ix_leads_offered_at", "offered_at"),
        # auto-close: leads left new / in call-back since long ago
        Index("ix_leads_status_updated_at", "status", "updated_at"),
        # reports: the leads created in a period
        Index("ix_leads_created_at", "created_at"),
        # the read API's change feed: pages in (updated_at, id) order
        Index("ix_leads_updated_at_id", "updated_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    _sentinel: Mapped[int] = orm_insert_sentinel()
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"))
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(128))
    status: Mapped[LeadStatus] = mapped_column(String(16))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    name: Mapped[str | None] = mapped_column(Text)
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(320))
    message: Mapped[str | None] = mapped_column(Text)
    service: Mapped[str | None] = mapped_column(Text)
    # the deal's amount, in the configured currency, recorded on conversion (or while qualifying)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    utm: Mapped[dict[str, Any]] = mapped_column(default=dict)
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    is_repeat: Mapped[bool] = mapped_column(Boolean, default=False)
    # a lead that looks like an earlier one (same name, similar phone): flagged, not merged
    possible_duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"))
    # set when a supervisor merged this lead into another; it is then closed as junk/duplicate
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"))
    # round robin: who the card is offered to now, and since when (moves on when not taken)
    offered_to_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    offered_at: Mapped[datetime | None]
    # nobody could be offered the lead when it came (nobody on duty): it waits for the first
    waiting_since: Mapped[datetime | None] = mapped_column(index=True)
    # the skill the distribution rules asked for (None: anyone on duty)
    wanted_skill: Mapped[str | None] = mapped_column(String(64))
    # the lead's own time limit (not taken while new; no contact made while in work): when the
    # next reminder or escalation is due, and how many of its steps have fired. NULL: none.
    alert_at: Mapped[datetime | None] = mapped_column(index=True)
    alert_level: Mapped[int] = mapped_column(Integer, default=0)
    alert_since: Mapped[datetime | None]  # when the current limit started (steps count from it)
    # the first contact with the client (an answer, a call, a call-back, qualified...)
    contacted_at: Mapped[datetime | None]
    close_reason: Mapped[str | None] = mapped_column(String(64))
    close_comment: Mapped[str | None] = mapped_column(Text)
    # bumped on every change, so a card rendered from an older state can be noticed and re-edited
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    taken_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # the lead's milestones as reports credit them, kept by every transition (bot/leads/
    # actions.py) so a report reads one row per lead instead of searching its history: who
    # took it first and when (a take, or a supervisor's reassign of a lead nobody had), the
    # working seconds it waited for that and for the first contact (as the working hours were
    # then: bot/sla/lead_timers.record_work_waits), who closed it last
    # (NULL: the system, as stale), when it was first qualified (or converted)
    first_owner_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    first_taken_at: Mapped[datetime | None]
    first_take_work_s: Mapped[float | None] = mapped_column(Float)
    first_contact_work_s: Mapped[float | None] = mapped_column(Float)  # to contacted_at
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    qualified_at: Mapped[datetime | None]
    # the contact and the deal the Bitrix24 hand-off made of this converted lead (their ids
    # there), each kept as soon as Bitrix24 answers, so a retry never makes a second one
    bitrix24_contact_id: Mapped[int | None] = mapped_column(BigInteger)
    bitrix24_deal_id: Mapped[int | None] = mapped_column(BigInteger)

    # lazy="raise": async code must say what it loads, never trip over an implicit query
    contact: Mapped[Contact | None] = relationship(lazy="raise")
    owner: Mapped[Staff | None] = relationship(lazy="raise", foreign_keys=[owner_id])
    offered_to: Mapped[Staff | None] = relationship(lazy="raise", foreign_keys=[offered_to_id])


class Invite(Base):
    """A one-time link an admin hands out: whoever opens it first becomes staff with `role`."""

    __tablename__ = "invites"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[Role] = mapped_column(String(16))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class RoutingTurn(Base):
    """Round robin: whose turn was last in each pool (a source/service rule, or "default")."""

    __tablename__ = "routing_turns"

    pool: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    updated_at: Mapped[datetime]


class LeadEvent(Base):
    """The append-only history of a lead."""

    __tablename__ = "lead_events"
    __table_args__ = (Index("ix_lead_events_lead_id_id", "lead_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    kind: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]
    # history brought in from a file (bot/intake/imports), not lived here: shown as such
    imported: Mapped[bool] = mapped_column(Boolean, server_default=false())
    # the imported row this event records (the `imported` event, one per row applied): a
    # second import of the same file finds it and creates nothing new
    import_key: Mapped[str | None] = mapped_column(String(64), index=True, unique=True)

    lead: Mapped[Lead] = relationship(lazy="raise")


class Task(Base):
    """Something due at a time (a call-back, a missed call to return, an answer owed); the
    scheduler sweeps open ones by `alert_at`."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_done_at_due_at", "done_at", "due_at"),
        Index("ix_tasks_lead_id_kind", "lead_id", "kind"),
        # reports: the answers owed that began in a period
        Index("ix_tasks_kind_created_at", "kind", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    kind: Mapped[str] = mapped_column(String(32))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    due_at: Mapped[datetime]
    fired_at: Mapped[datetime | None]
    done_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # how many times it happened (missed calls from one number collapse into one task)
    count: Mapped[int] = mapped_column(Integer, default=1)
    # what the card shows of it (the phone that called, when it last called, ...)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # the next reminder or escalation, and how many steps have fired; NULL: none left
    alert_at: Mapped[datetime | None] = mapped_column(index=True)
    alert_level: Mapped[int] = mapped_column(Integer, default=0)


class Call(Base):
    """One telephony event (the API or a PBX connector); (call_id, status) makes repeats no-ops."""

    __tablename__ = "calls"
    __table_args__ = (
        UniqueConstraint("call_id", "status", name="uq_calls_call_id_status"),
        # reports: the calls made in a period (a call without started_at: when it was recorded)
        Index("ix_calls_called_at", text("coalesce(started_at, created_at)")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(128))
    provider: Mapped[str] = mapped_column(String(16))  # api, zadarma, mango
    direction: Mapped[str] = mapped_column(String(8))  # in, out
    status: Mapped[str] = mapped_column(String(16))  # answered, missed, busy, no_answer, failed
    from_phone: Mapped[str | None] = mapped_column(String(32))
    to_phone: Mapped[str | None] = mapped_column(String(32))
    started_at: Mapped[datetime | None]
    duration: Mapped[int | None] = mapped_column(Integer)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"))
    raw: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class RelayedMessage(Base):
    """A client's message as relayed into a manager's chat: replying to it answers the client.
    Its Reply button is taken away once it no longer works for that chat (the lead closed, or
    someone else's)."""

    __tablename__ = "relayed_messages"
    __table_args__ = (
        UniqueConstraint("chat_id", "message_id", name="uq_relayed_messages_chat_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    # whose chat it is (the reader whose Reply may stop working); NULL: the team chat
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[datetime]
    # its Reply button was taken away (it no longer worked): never edited again
    buttons_removed_at: Mapped[datetime | None]


class JobRun(Base):
    """A once-a-day job that ran (the digest, auto-close): claimed by inserting its row, so
    of two instances only one runs it."""

    __tablename__ = "job_runs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    run_key: Mapped[str] = mapped_column(String(64), primary_key=True)  # e.g. the local date
    ran_at: Mapped[datetime]


class OutboxMessage(Base):
    """A notification committed with the change that caused it, sent after the commit."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_next_attempt_at", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[OutboxKind] = mapped_column(String(16))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"))
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[OutboxState] = mapped_column(String(16), default=OutboxState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # NULL: due at once. Set (by the notifier's own clock) only when a send is retried later.
    next_attempt_at: Mapped[datetime | None]
    # a sender holds a row until this time; a crashed sender's rows are taken over after it
    claimed_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]

    lead: Mapped[Lead | None] = relationship(lazy="raise")


class HookDelivery(Base):
    """One event on its way to one outbound target (a `[[webhooks]]` entry, or the Bitrix24
    hand-off), committed with the change it announces and delivered after the commit: in
    order per lead and target, retried with back-off until `give_up_at`, then failed."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # what is due: the claim's range
        Index("ix_webhook_deliveries_state_next_attempt_at", "state", "next_attempt_at"),
        # an earlier row of the same lead and target still pending holds this one back
        Index("ix_webhook_deliveries_lead_id_target_id", "lead_id", "target", "id"),
        # pending / failed per target, and the oldest pending (leadbot webhooks, /metrics)
        Index("ix_webhook_deliveries_target_state_created_at", "target", "state", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    target: Mapped[str] = mapped_column(String(64))  # the webhook's name, or "bitrix24"
    # the event's id: the same for every target and every retry (the Idempotency-Key)
    event_id: Mapped[str] = mapped_column(String(36))
    event: Mapped[str] = mapped_column(String(40))  # HookEvent
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the JSON body, as sent
    state: Mapped[OutboxState] = mapped_column(String(16), default=OutboxState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]  # NULL: due at once
    claimed_until: Mapped[datetime | None]  # an instance holds the row (PostgreSQL)
    give_up_at: Mapped[datetime]  # a failed attempt after this fails the row
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    done_at: Mapped[datetime | None]  # delivered, or failed


class LeadCard(Base):
    """Which Telegram message shows which lead, so every copy can be edited later."""

    __tablename__ = "lead_cards"
    __table_args__ = (UniqueConstraint("lead_id", "chat_id", name="uq_lead_cards_lead_id_chat_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"))
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    locale: Mapped[str] = mapped_column(String(8))
    rendered_version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]


class AlertCopy(Base):
    """A reminder or escalation message sent about a lead: it shows the lead too, so it is kept
    true like a card copy (re-drawn after every change; once its matter is settled it says so
    and loses its buttons)."""

    __tablename__ = "alert_copies"
    __table_args__ = (UniqueConstraint("chat_id", "message_id", name="uq_alert_copies_chat_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[int] = mapped_column(BigInteger)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # the ALERT row's payload: which limit, which step, the level it had got to, the task
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    rendered_version: Mapped[int] = mapped_column(Integer)
    settled_at: Mapped[datetime | None]  # drawn as settled: never edited again
    created_at: Mapped[datetime]


class AdSpend(Base):
    """What advertising one source cost in one calendar month (`/spend vk_ads 15000 11.2026`,
    by a supervisor): the report divides it by the source's leads and deals. One row a source
    and month: entering it again replaces the amount."""

    __tablename__ = "ad_spend"
    __table_args__ = (UniqueConstraint("source", "month", name="uq_ad_spend_source_month"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(64))  # a Lead.source value
    month: Mapped[date] = mapped_column(Date)  # the month's first day (a local calendar month)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2))  # in the configured currency
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    entered_at: Mapped[datetime]


# --- follow-up sequences (issue 16) ---------------------------------------------------------


class ContactChannel(enum.StrEnum):
    TELEGRAM = "telegram"
    PHONE = "phone"
    EMAIL = "email"


class EnrolmentState(enum.StrEnum):
    ACTIVE = "active"  # a step is due at `due_at`
    FINISHED = "finished"  # every step ran
    STOPPED = "stopped"  # ended early: `stop_reason` says why


class SequenceEnrolment(Base):
    """A lead in a follow-up sequence (`[[sequences]]`): the step due next and when. A due step
    is claimed by advancing this row (UPDATE ... WHERE step = the one read) in the transaction
    that writes its outbox row, so it runs once across restarts and instances."""

    __tablename__ = "sequence_enrolments"
    __table_args__ = (Index("ix_sequence_enrolments_state_due_at", "state", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    sequence: Mapped[str] = mapped_column(String(32))  # the `[[sequences]]` name
    step: Mapped[int] = mapped_column(Integer, default=0)  # the index of the step due next
    state: Mapped[EnrolmentState] = mapped_column(String(16), default=EnrolmentState.ACTIVE)
    due_at: Mapped[datetime | None]  # when the next step may run (NULL once ended)
    stop_reason: Mapped[str | None] = mapped_column(String(32))
    messages_sent: Mapped[int] = mapped_column(Integer, default=0)
    last_message_at: Mapped[datetime | None]  # one sequence message a day per client
    created_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class TelegramLink(Base):
    """A one-time `t.me/<bot>?start=<token>` handed to a web form's client: whoever opens it
    first is linked to the lead's contact (their Telegram id), so the bot can reach them."""

    __tablename__ = "telegram_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    created_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    used_by: Mapped[int | None] = mapped_column(BigInteger)  # the opener's Telegram id


# --- lead score (issue 16) -----------------------------------------------------------------
class ScoreCount(Base):
    """The lead score's counts: of the closed leads counted, how many with this value of this
    factor were won (converted) and lost (refused, junk). The row ("_all", "") holds the
    totals. Rebuilt nightly (bot/scoring/recount.py); a close adds its lead, a reopen takes
    it back (bot/scoring/counts.py). A score is computed from these rows when it is read."""

    __tablename__ = "score_counts"

    feature: Mapped[str] = mapped_column(String(16), primary_key=True)
    value: Mapped[str] = mapped_column(String(64), primary_key=True)
    won: Mapped[int] = mapped_column(Integer, default=0)
    lost: Mapped[int] = mapped_column(Integer, default=0)


class ScoreModel(Base):
    """The last full recount (one row, id 1): when, which closed leads were kept out of the
    counts (closed from `held_out_from` to `computed_at`) and how well the counts ranked
    them (`auc`, NULL while there are too few of either outcome)."""

    __tablename__ = "score_model"

    id: Mapped[int] = mapped_column(primary_key=True)
    computed_at: Mapped[datetime]
    held_out_from: Mapped[datetime | None]
    held_out: Mapped[int] = mapped_column(Integer, default=0)
    closed: Mapped[int] = mapped_column(Integer, default=0)  # closed leads at the recount
    auc: Mapped[float | None] = mapped_column(Float)


# --- end of lead score ----------------------------------------------------------------------


# --- e-mail ---------------------------------------------------------------------------------


class LetterDirection(enum.StrEnum):
    IN = "in"
    OUT = "out"


class LetterOutcome(enum.StrEnum):
    """An outgoing letter's delivery state (incoming ones say what they were: bot/email)."""

    QUEUED = "queued"
    SENT = "sent"
    BOUNCED = "bounced"
    FAILED = "failed"


class EmailLetter(Base):
    """One e-mail seen or sent by leadbot. An incoming letter is recorded, with its mailbox
    UID and Message-ID, in the transaction that makes its lead (or joins it to one, or records
    that it was an auto-reply / list / bounce): so it is processed once, whatever restarts or
    instances. An outgoing letter (a manager's reply) is recorded when queued, so a later
    reply in the same thread (In-Reply-To / References) finds its lead."""

    __tablename__ = "email_letters"
    __table_args__ = (
        UniqueConstraint("direction", "message_id", name="uq_email_letters_direction_message_id"),
        UniqueConstraint("mailbox", "uidvalidity", "uid", name="uq_email_letters_mailbox_uid"),
        # the outgoing letters due: the mail sender's claim (bot/email/outgoing.py)
        Index("ix_email_letters_outcome_next_attempt_at", "outcome", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"), index=True)
    direction: Mapped[str] = mapped_column(String(8))  # in, out
    message_id: Mapped[str] = mapped_column(String(998))  # without the angle brackets
    # where an incoming letter was read (NULL for outgoing ones)
    mailbox: Mapped[str | None] = mapped_column(String(255))
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    uid: Mapped[int | None] = mapped_column(BigInteger)
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    thread_refs: Mapped[str | None] = mapped_column(Text)  # the References header, as sent
    subject: Mapped[str | None] = mapped_column(Text)
    from_address: Mapped[str | None] = mapped_column(String(320))
    to_address: Mapped[str | None] = mapped_column(String(320))
    # in: lead, joined, auto_reply, list, bounce, ignored; out: queued, sent, bounced, failed
    outcome: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    # --- an outgoing letter on its way (migration 0020): the row is its own queue entry, as a
    # webhook delivery is; the mail sender (bot/adapters/mail/sender.py) claims and settles it
    body: Mapped[str | None] = mapped_column(Text)  # the text/plain body, as the manager wrote it
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))  # who wrote it
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime | None]  # NULL: due at once
    claimed_until: Mapped[datetime | None]  # a sender holds the row until then
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]  # the mail server took it
    # a photo or file the manager answered with: {file_id, name, type, size}; fetched from
    # Telegram (getFile) when the letter is sent, never stored here
    attachment: Mapped[dict[str, Any] | None]


# --- e-mail attachments (issue 17, mailin) ----------------------------------------------------


class EmailAttachment(Base):
    """A file that came with a client's letter, on its way to Telegram as a document (one
    outbox row per chat). The bytes are kept only until every such row is done (sent or given
    up): then Telegram holds the file and `data` is emptied; the name and size stay for the
    history."""

    __tablename__ = "email_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("email_letters.id"), index=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), index=True)
    name: Mapped[str] = mapped_column(Text)
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


# --- click-to-call (issue 17) ---------------------------------------------------------------


class DialHold(Base):
    """A call being set up for a lead (the card's 📞 Call): one row per lead, claimed by a
    conditional UPDATE (or the INSERT of the lead's first row) and committed before the PBX is
    asked, so of two presses, in one process or two, one rings. Released early when the PBX
    fails or reports the call; else it lapses at `held_until`."""

    __tablename__ = "dial_holds"

    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id"), primary_key=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    token: Mapped[str] = mapped_column(String(32))  # whose claim: only it releases the row
    requested_at: Mapped[datetime]
    held_until: Mapped[datetime]


# --- end of click-to-call -------------------------------------------------------------------


# --- call recordings (issue 17) -------------------------------------------------------------


class CallRecording(Base):
    """A recording the PBX reported (Zadarma's NOTIFY_RECORD, Mango's recording events): what
    to ask its API for, never the file or a link (leadbot fetches it at each press). Kept even
    when its call is not known yet: the call's event links it later (`lead_id` set then, with
    the lead's `recording` event). (provider, ref) makes the PBX's repeats no-ops."""

    __tablename__ = "call_recordings"
    __table_args__ = (
        UniqueConstraint("provider", "ref", name="uq_call_recordings_provider_ref"),
        Index("ix_call_recordings_provider_call_id", "provider", "call_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))  # zadarma, mango
    # the call it belongs to, as calls.call_id holds it (Zadarma's pbx_call_id, Mango's entry_id)
    call_id: Mapped[str] = mapped_column(String(128))
    # what the PBX's API is asked for: Zadarma's call_id_with_rec, Mango's recording_id
    ref: Mapped[str] = mapped_column(String(255))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("leads.id"), index=True)
    duration: Mapped[int | None] = mapped_column(Integer)  # the call's, in seconds
    started_at: Mapped[datetime | None]  # the call's start (the audio's title)
    created_at: Mapped[datetime]
    linked_at: Mapped[datetime | None]


# --- end of call recordings -----------------------------------------------------------------
