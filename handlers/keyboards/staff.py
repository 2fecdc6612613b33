"""Buttons of /staff: the list of people, a person's page, the deactivation question."""

from __future__ import annotations

import enum
from collections.abc import Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.common.render import cut, labels
from bot.team.overview import TeamMember
from storage.models import Role, Staff

BUTTON_NAME = 40


class StaffAction(enum.StrEnum):
    LIST = "list"  # back to everyone (staff_id 0)
    OPEN = "open"  # a person's page
    SKILLS = "skills"  # ask for the skills
    CAPACITY = "cap"  # ask for the capacity
    DEACTIVATE = "off"  # ask "are you sure?"
    CONFIRM = "off_yes"  # deactivate


class StaffButton(CallbackData, prefix="staff"):
    """`staff:open:7`, `staff:off_yes:7`."""

    action: StaffAction
    staff_id: int


class StaffRoleButton(CallbackData, prefix="staffrole"):
    """Give a person a role: `staffrole:7:supervisor`."""

    staff_id: int
    role: Role


class DutyChoice(enum.StrEnum):
    ON = "on"
    OFF = "off"


class DutyButton(CallbackData, prefix="duty"):
    """Under /duty: `duty:on`, `duty:off`."""

    choice: DutyChoice


def duty_keyboard(on_duty: bool, locale: str) -> InlineKeyboardMarkup:
    """The person's status shown by /duty: the button to change it (and the other, marked)."""
    names = labels(locale)["duty_buttons"]
    builder = InlineKeyboardBuilder()
    for choice in DutyChoice:
        current = (choice == DutyChoice.ON) == on_duty
        text = f"• {names[choice.value]} •" if current else names[choice.value]
        builder.button(text=text, callback_data=DutyButton(choice=choice))
    builder.adjust(2)
    return builder.as_markup()


def staff_list_keyboard(people: Sequence[Staff], locale: str) -> InlineKeyboardMarkup:
    roles = labels(locale)["roles"]
    builder = InlineKeyboardBuilder()
    for person in people:
        builder.button(
            text=f"{cut(person.name, BUTTON_NAME)} · {roles[person.role]}",
            callback_data=StaffButton(action=StaffAction.OPEN, staff_id=person.id),
        )
    builder.adjust(1)
    return builder.as_markup()


def staff_page_keyboard(member: TeamMember, viewer_id: int, locale: str) -> InlineKeyboardMarkup:
    """An admin's own page offers no way to demote or deactivate themself."""
    names = labels(locale)["staff_buttons"]
    person = member.staff_id
    own = person == viewer_id
    rows: list[list[tuple[str, CallbackData]]] = []
    roles = [role for role in Role if role != member.role and not own]
    if roles:
        rows.append([(names[r.value], StaffRoleButton(staff_id=person, role=r)) for r in roles])
    if member.role == Role.MANAGER:
        rows.append(
            [
                (names["skills"], StaffButton(action=StaffAction.SKILLS, staff_id=person)),
                (names["capacity"], StaffButton(action=StaffAction.CAPACITY, staff_id=person)),
            ]
        )
    if not own:
        rows.append(
            [(names["deactivate"], StaffButton(action=StaffAction.DEACTIVATE, staff_id=person))]
        )
    rows.append([(names["all_staff"], StaffButton(action=StaffAction.LIST, staff_id=0))])
    return _keyboard(rows)


def confirm_deactivate_keyboard(staff_id: int, locale: str) -> InlineKeyboardMarkup:
    names = labels(locale)["staff_buttons"]
    return _keyboard(
        [
            [
                (
                    names["confirm_deactivate"],
                    StaffButton(action=StaffAction.CONFIRM, staff_id=staff_id),
                )
            ],
            [(names["back"], StaffButton(action=StaffAction.OPEN, staff_id=staff_id))],
        ]
    )


def all_staff_keyboard(locale: str) -> InlineKeyboardMarkup:
    names = labels(locale)["staff_buttons"]
    return _keyboard([[(names["all_staff"], StaffButton(action=StaffAction.LIST, staff_id=0))]])


def _keyboard(rows: list[list[tuple[str, CallbackData]]]) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for row in rows:
        for text, data in row:
            builder.button(text=text, callback_data=data)
    builder.adjust(*(len(row) for row in rows))
    return builder.as_markup()
