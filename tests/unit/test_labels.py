"""Every word the code looks up exists in both languages: each refusal has its text, the two
labels.toml files have the same keys (and the same placeholders), and each value the code looks
up in them (`labels(locale)[section][value]`, or `labels.<section>` in a template) is there, for
every member of the enum it comes from."""

from __future__ import annotations

import ast
import enum
import string
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

import bot
from bot.common.lifecycle import CLOSED_EVENT, Action
from bot.common.reasons import idle_age
from bot.common.render import LOCALES, TEMPLATES_DIR, labels, render, render_alert
from bot.intake.connectors import SOURCES
from bot.intake.imports.columns import FIELDS, ORIGINS
from bot.intake.imports.rows import PROBLEMS
from bot.intake.imports.store import IMPORTED_EVENT
from bot.intake.input import DEFAULT_SOURCE
from bot.leads.actions import Refusal
from bot.leads.call_backs import CallBackChoice
from bot.leads.cards import CardAction
from bot.leads.lists import LeadList
from bot.reports.drill import DrillKind
from bot.reports.export import COLUMNS as EXPORT_COLUMNS
from bot.reports.periods import PeriodKind
from bot.self_service.manage import CANCELLED_EVENT, NUDGED_EVENT
from bot.self_service.requests import CLIENT_TIME_EVENT
from bot.self_service.slots import SlotDay
from bot.sla.sweep import EVENT_OF_STEP
from bot.team.invites import InviteRefusal
from bot.team.menus import commands_for
from bot.team.staff import StaffRefusal
from bot.telephony.calls import CALL_SOURCE, CallStatus, Direction
from handlers.keyboards.imports import ImportDo
from handlers.keyboards.qualify import StepChoice
from handlers.keyboards.self_service import MenuItem, RequestAction
from handlers.keyboards.staff import DutyChoice
from storage.models import TELEGRAM_SOURCE, LeadStatus, Role

# ----------------------------------------------------------------------------------------------
# Refusals: handlers/errors.py shows `refusal_<value>` (with the owner's name and the lead's id
# when known) and `staff_refusal` (with the reason); a new value needs its words.


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("refusal", list(Refusal), ids=str)
def test_every_refusal_has_its_alert(refusal: Refusal, locale: str) -> None:
    name = f"refusal_{refusal.value}"
    assert (TEMPLATES_DIR / locale / f"{name}.txt.j2").is_file(), f"no {locale}/{name}.txt.j2"
    for owner in ("Борис", None):
        text = render_alert(name, locale, owner=owner, lead_id=42)
        _is_words(text, name, refusal.value)


@pytest.mark.parametrize("locale", LOCALES)
def test_each_refusal_says_something_of_its_own(locale: str) -> None:
    texts = {
        render_alert(f"refusal_{refusal.value}", locale, owner=None, lead_id=42)
        for refusal in Refusal
    }
    assert len(texts) == len(Refusal)


@pytest.mark.parametrize("locale", LOCALES)
def test_every_staff_refusal_has_a_text_of_its_own(locale: str) -> None:
    texts = {}
    for refusal in StaffRefusal:
        texts[refusal] = render_alert("staff_refusal", locale, reason=refusal.value)
        _is_words(texts[refusal], "staff_refusal", refusal.value)
    # the template picks by reason: a new value falling through to another's text fails here
    assert len(set(texts.values())) == len(StaffRefusal), texts


@pytest.mark.parametrize("locale", LOCALES)
def test_every_invite_refusal_has_a_text_of_its_own(locale: str) -> None:
    staff = {"name": "Анна", "role": Role.MANAGER, "on_duty": True}
    texts = {
        render("invite_refused.html.j2", locale, reason=reason.value, staff=staff)
        for reason in InviteRefusal
    }
    assert len(texts) == len(InviteRefusal) and all(texts)


def _is_words(text: str, name: str, value: str) -> None:
    """Words, not a key: not empty, not the value itself, no template name in it."""
    assert text.strip(), f"{name} ({value}) is empty"
    assert text.strip() != value and name not in text, f"{name} shows a bare key: {text!r}"


# ----------------------------------------------------------------------------------------------
# labels.toml: one key tree, the same placeholders in both languages, no empty label.


def _leaves(tree: dict[str, Any], path: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in tree.items():
        if isinstance(value, dict):
            yield from _leaves(value, f"{path}{key}.")
        else:
            yield f"{path}{key}", value


def test_both_languages_have_the_same_labels() -> None:
    ru, en = (dict(_leaves(labels(locale))) for locale in LOCALES)
    assert sorted(set(ru) - set(en)) == [], "only in templates/ru/labels.toml"
    assert sorted(set(en) - set(ru)) == [], "only in templates/en/labels.toml"


@pytest.mark.parametrize("locale", LOCALES)
def test_every_label_is_words_with_the_same_placeholders_as_the_other_language(
    locale: str,
) -> None:
    other = dict(_leaves(labels("en" if locale == "ru" else "ru")))
    for key, value in _leaves(labels(locale)):
        assert isinstance(value, str) and value.strip(), f"{locale} {key} is empty"
        assert _placeholders(value) == _placeholders(other[key]), f"{key}: {{...}} differ"


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}


# ----------------------------------------------------------------------------------------------
# Each section the code looks up, and the keys it looks up there.


def _values(*enums: type[enum.StrEnum]) -> set[str]:
    return {member.value for kind in enums for member in kind}


def _event_kinds() -> set[str]:
    """Every LeadEvent kind the code writes (history shows `labels.events[kind]`): the literal
    ones found in bot/ (LeadEvent(kind="..."), apply_action(..., event_kind="...")), and those
    the code computes."""
    found: set[str] = set()
    for path in Path(bot.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.Call):
                for keyword in node.keywords:
                    named = keyword.arg == "event_kind" or (
                        keyword.arg == "kind" and _called(node) == "LeadEvent"
                    )
                    if named and isinstance(keyword.value, ast.Constant):
                        found.add(str(keyword.value.value))
    computed = {
        CLOSED_EVENT,
        *EVENT_OF_STEP.values(),  # the system's auto-close, reminders
        "created",
        "repeat_request",  # bot/intake/store.py
        "replied",
        "client_blocked",  # bot/intake/client_chat.py reply_not_delivered
        "missed_call_done",
        "missed_call_retry",  # bot/telephony/missed_calls.py
        IMPORTED_EVENT,  # bot/intake/imports/store.py (and the history it dates: created...)
        # apply_action's default: the action's own value
        Action.JUNK.value,
        Action.REFUSE.value,
        Action.CONVERT.value,
        Action.REOPEN.value,
        CLIENT_TIME_EVENT,  # bot/self_service: the client's own steps
        CANCELLED_EVENT,
        NUDGED_EVENT,
    }
    return found | computed


def _called(node: ast.Call) -> str | None:
    func = node.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)


def _commands() -> set[str]:
    return {name for role in (None, *Role) for name in commands_for(role)}


# section -> the keys the code looks up in it (and where)
LOOKED_UP: dict[str, set[str]] = {
    # call recordings: history.html.j2, handlers/card/notes.py and recordings.py
    "recordings": {"line", "button", "title"},
    "statuses": _values(LeadStatus),  # card.html.j2, the lists' lines
    # handlers/keyboards/lead.py and escalation.py
    "buttons": {*_values(CardAction), "back", "take_over", "snooze"},
    "callback_choices": _values(CallBackChoice),
    "step_buttons": _values(StepChoice),  # handlers/keyboards/qualify.py
    "lists": _values(LeadList),  # the menu under the input field (handlers/lists.py)
    "roles": _values(Role),
    "role_with_article": _values(Role),
    "staff_buttons": {
        *_values(Role),
        "skills",
        "capacity",
        "deactivate",
        "confirm_deactivate",
        "back",
        "all_staff",
    },
    "duty_buttons": _values(DutyChoice),  # handlers/keyboards/staff.py duty_keyboard
    "calls": _values(Direction, CallStatus),  # bot/leads/notes.py: a call in the history
    "commands": _commands(),  # handlers/menu.py
    # the sources the code gives a lead (a form may send any other: shown as it is)
    "channels": {DEFAULT_SOURCE, TELEGRAM_SOURCE, CALL_SOURCE, *SOURCES.values()},
    "events": _event_kinds(),  # history.html.j2
    "ago": {"now", "minutes", "hours", "days"},
    "wait": {
        "minutes",
        "hours",
        "hours_minutes",
    },  # bot/common/render.py wait_words  # bot/common/render.py since
    # bot/common/reasons.py: idle_age's units and the auto-close's reason
    "stale": {
        "reason",
        "reason_short",
        *(idle_age(timedelta(hours=h))["unit"] for h in (24, 48, 36)),
    },
    "when": {"today", "months"},  # bot/common/render.py arrival_time, local_day
    "reassign": {"load"},
    "merge": {"confirm"},
    "client": {"share_phone"},
    # follow-up sequences: handlers/keyboards/sequences.py, sequence_task.html.j2
    "sequence_buttons": {"yes", "no"},
    "sequence_tasks": {"call_again", "reach_client"},
    "contact_channels": {"telegram", "phone", "email"},  # channel_set.html.j2
    # bot/reports/chat.py and the report_*.html.j2 templates (nested tables: checked below)
    "report": {"weekdays", "periods", "steps", "charts", "drill", "buttons"},
    # bot/reports/export.py (nested tables: checked below; the report workbook's words by
    # tests/core/test_report_export.py, which writes it in every language)
    "export": {"leads_sheet", "columns", "statuses", "sheets", "report"},
    # handlers/keyboards/imports.py; bot/intake/imports (nested tables: checked below)
    "import_buttons": {*_values(ImportDo), "import"},
    "imports": {"row_column", "reason_column", "rejected_file", "problems", "origins", "fields"},
    # bot/scoring/line.py (nested tables: tests/unit/test_scoring.py checks every value)
    "score": {"rules", "hour", "weekday", "channel", "phone", "email", "repeat", "length"},
    # handlers/keyboards/self_service.py (the buttons, slot days), bot/self_service/requests.py
    "self_service": {
        *_values(MenuItem),
        *(action.value for action in (RequestAction.MOVE, RequestAction.CANCEL)),
        "cancel_yes",
        "cancel_no",
        *(day.value for day in SlotDay if day is not SlotDay.LATER),
        "weekdays",
        "lead_message",
    },
    # handlers/card/dial.py: Mango Office's result codes the 📞 Call alert says in words (any
    # other code is shown as the number)
    "pbx_results": {"2240", "3102", "3105", "3200", "3330", "4501"},
}

FUNNEL_STEPS = {"received", "taken", "contacted", "qualified", "converted"}
CHART_WORDS = {
    "funnel",
    "daily",
    "take",
    "take_axis",
    "median",
    "arrivals",
    "weekdays",
    "other",
    "nothing",
    "steps",
}


@pytest.mark.parametrize("locale", LOCALES)
def test_the_report_has_its_words(locale: str) -> None:
    """Every period button, funnel step and chart word /report shows; seven weekdays."""
    report = labels(locale)["report"]
    assert set(report["periods"]) == {kind.value for kind in PeriodKind}
    assert set(report["steps"]) == FUNNEL_STEPS
    assert set(report["charts"]) == CHART_WORDS
    assert set(report["charts"]["steps"]) == FUNNEL_STEPS
    assert len(report["weekdays"].split()) == 7
    assert len(report["charts"]["weekdays"].split()) == 7
    assert report["charts"]["median"].format(n=5) != report["charts"]["median"]


REPORT_BUTTONS = {
    "dates",
    "by_source",
    "by_manager",
    "clear",
    "all_sources",
    "all_managers",
    "leads_csv",
    "leads_xlsx",
    "report_xlsx",
}


@pytest.mark.parametrize("locale", LOCALES)
def test_the_reports_buttons_have_their_words(locale: str) -> None:
    """Every drill-down button (one per DrillKind; a reason's kinds name the reason) and every
    filter and file button under a report."""
    report = labels(locale)["report"]
    assert set(report["drill"]) == {kind.value for kind in DrillKind}
    for kind in (DrillKind.JUNK_REASON, DrillKind.REFUSAL_REASON):
        assert "Spam" in report["drill"][kind.value].format(reason="Spam")
    assert set(report["buttons"]) == REPORT_BUTTONS


@pytest.mark.parametrize("locale", LOCALES)
def test_the_imports_have_their_words(locale: str) -> None:
    """Every reason a row is rejected for (with the column's header in it), every system a
    file may come from, every field a column may be read as."""
    imports = labels(locale)["imports"]
    assert set(imports["problems"]) == PROBLEMS
    for problem, words in imports["problems"].items():
        assert (
            "“X”" in words.format(column="X")
            or "«X»" in words.format(column="X")
            or ("{column}" not in words and problem in ("unreadable_line", "no_contact"))
        ), problem
    assert set(imports["origins"]) == set(ORIGINS)
    assert set(imports["fields"]) == set(FIELDS)


@pytest.mark.parametrize("locale", LOCALES)
def test_the_exports_have_their_words(locale: str) -> None:
    """A header for every column of the leads' file, and a word for every status."""
    export = labels(locale)["export"]
    assert set(export["columns"]) == set(EXPORT_COLUMNS)
    assert set(export["statuses"]) == _values(LeadStatus)


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("section", sorted(LOOKED_UP))
def test_every_key_the_code_looks_up_is_labelled(section: str, locale: str) -> None:
    words = labels(locale)
    assert section in words, f"templates/{locale}/labels.toml has no [{section}]"
    missing = sorted(LOOKED_UP[section] - set(words[section]))
    assert missing == [], f"templates/{locale}/labels.toml [{section}] lacks {missing}"


def test_no_section_goes_unchecked() -> None:
    """A new section gets its line in LOOKED_UP (what the code looks up in it)."""
    assert set(labels("en")) == set(LOOKED_UP)
