"""Invite links: an admin hands out a one-time link; whoever opens it first becomes staff.

The link is `t.me/<bot>?start=<token>`: Telegram sends the opener's first message as
`/start <token>`. A token is random (`secrets.token_urlsafe`), single use and expires.
"""

from __future__ import annotations

import enum
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from bot.common.outbox import enqueue, text_message
from bot.team.staff import staff_language
from storage.models import Invite, Role, Staff

log = logging.getLogger("leadbot.invites")

INVITABLE = (Role.MANAGER, Role.SUPERVISOR)  # admins come from ADMIN_IDS or a role change
TOKEN_BYTES = 24  # 32 characters of A-Z a-z 0-9 _ -: what a deep link's payload may hold
# what /start's payload must look like to be read as an invite (other payloads are not ours)
TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
NAME_LIMIT = 128  # Staff.name


class InviteRefusal(enum.StrEnum):
    """Why opening a link made nobody staff; the opener reads `invite_refused.html.j2`."""

    UNKNOWN = "unknown"  # no such token (mistyped, forged, or from another bot)
    EXPIRED = "expired"
    USED = "used"  # someone else opened it first
    ALREADY_STAFF = "already_staff"  # active staff opened it; the link stays valid


@dataclass(frozen=True)
class JoinResult:
    staff: Staff | None
    refusal: InviteRefusal | None = None
    joined: bool = True  # False: the person had already joined with this very link

    @property
    def ok(self) -> bool:
        return self.refusal is None


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


async def create_invite(
    session: AsyncSession, admin: Staff, role: Role, now: datetime, ttl: timedelta
) -> Invite:
    """A new one-time link for `role` (manager or supervisor), valid for `ttl`.

    Raises PermissionError when `admin` is not an active admin and ValueError for any other
    role: the handler checks both first, so these are programming errors."""
    if admin.role != Role.ADMIN or not admin.is_active:
        raise PermissionError("only an active admin creates invites")
    if role not in INVITABLE:
        raise ValueError(f"invites are for {', '.join(INVITABLE)}, not {role}")
    invite = Invite(
        token=new_token(), role=role, created_by_id=admin.id, created_at=now, expires_at=now + ttl
    )
    session.add(invite)
    await session.commit()
    log.info(
        "invite created id=%s role=%s by=%s expires=%s",
        invite.id,
        role.value,
        admin.id,
        invite.expires_at.isoformat(),
    )
    return invite


async def _invite(session: AsyncSession, token: str) -> Invite | None:
    return await session.scalar(
        select(Invite).where(Invite.token == token).execution_options(populate_existing=True)
    )


async def _person(session: AsyncSession, telegram_id: int) -> Staff | None:
    return await session.scalar(
        select(Staff)
        .where(Staff.telegram_id == telegram_id)
        .execution_options(populate_existing=True)
    )


async def _why_not(
    session: AsyncSession, invite: Invite | None, telegram_id: int, now: datetime
) -> JoinResult | None:
    """The answer for a link that cannot make this person staff now; None if it can."""
    if invite is None:
        return JoinResult(None, InviteRefusal.UNKNOWN, joined=False)
    person = await _person(session, telegram_id)
    if invite.used_by_id is not None and person is not None and invite.used_by_id == person.id:
        if person.is_active:  # their own link, opened again: welcome back, nothing changes
            return JoinResult(person, joined=False)
        return JoinResult(person, InviteRefusal.USED, joined=False)
    if person is not None and person.is_active:
        return JoinResult(person, InviteRefusal.ALREADY_STAFF, joined=False)
    if invite.used_at is not None:
        return JoinResult(None, InviteRefusal.USED, joined=False)
    if invite.expires_at <= now:
        return JoinResult(None, InviteRefusal.EXPIRED, joined=False)
    return None


async def accept_invite(
    session: AsyncSession,
    token: str,
    telegram_id: int,
    name: str,
    language: str | None,
    now: datetime,
) -> JoinResult:
    """Make the opener of an invite link staff with the invite's role, in one transaction.

    - unknown, expired or already used links are refused (`InviteRefusal`);
    - someone who is active staff already keeps their role: a link never changes a role
      (roles are changed in /staff, so an admin testing a manager link is not demoted) and
      stays unused for the person it was meant for (`ALREADY_STAFF`);
    - a former (deactivated) staff member comes back with the invite's role, keeping their
      skills and capacity;
    - the person who used the link opening it again is simply greeted (`joined` False).

    The invite is claimed by one conditional UPDATE (still unused, not expired), so of two
    people opening the same link at once exactly one becomes staff and the other is told it
    is used. The admin who made the link is told who joined.
    """
    refused = await _why_not(session, await _invite(session, token), telegram_id, now)
    if refused is not None:
        await session.commit()  # ends the read-only transaction
        return refused
    claimed = await session.execute(
        update(Invite)
        .where(Invite.token == token, Invite.used_at.is_(None), Invite.expires_at > now)
        .values(used_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        # another opener won the race (or the link expired meanwhile): say why, as it is now
        await session.rollback()
        return await _why_not(session, await _invite(session, token), telegram_id, now) or (
            JoinResult(None, InviteRefusal.USED, joined=False)
        )
    invite = await _invite(session, token)
    assert invite is not None
    person = await _person(session, telegram_id)
    display = (name.strip() or f"user {telegram_id}")[:NAME_LIMIT]
    if person is None:
        person = Staff(
            telegram_id=telegram_id, name=display, role=invite.role, created_at=now, skills=[]
        )
        session.add(person)
    person.name = display
    person.role = invite.role
    person.is_active = True
    person.on_duty = True
    person.language = staff_language(language) or person.language
    try:
        await session.flush()
    except IntegrityError:  # the same person joined by another link this very moment
        await session.rollback()
        return await accept_invite(session, token, telegram_id, name, language, now)
    invite.used_by_id = person.id
    admin = await session.get(Staff, invite.created_by_id) if invite.created_by_id else None
    if admin is not None and admin.is_active:
        context = {"person": display, "role": Role(invite.role).value}
        await enqueue(
            session, [text_message(None, admin.telegram_id, admin.id, "invite_used", context, now)]
        )
    await session.commit()
    log.info("invite used id=%s staff=%s role=%s", invite.id, person.id, Role(invite.role).value)
    return JoinResult(person)
