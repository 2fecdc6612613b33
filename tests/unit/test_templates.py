"""Every message template renders, in both languages, from sample data shaped as the code passes
it: a table below holds one or more sample contexts per template (a new template fails here
until it gets one). The Jinja environment is strict (StrictUndefined), so a sample must hold
every value its template reads. What comes out is not empty and fits: an HTML template's text
parses as Telegram HTML (the emulator's checker, modelled on TDLib) and fits one message; an
alert (`*.txt.j2`, through `render_alert`) fits the pop-up without being cut; neither shows a
"None", and a message about a lead names it (#42)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import jinja2
import pytest

from bot.common.reasons import idle_age
from bot.common.render import (
    ALERT_LIMIT,
    LOCALES,
    TELEGRAM_TEXT_LIMIT,
    TEMPLATES_DIR,
    render,
    render_alert,
)
from bot.config import AlertKind, load_app_config
from bot.devtools.emulator.telegram_html import parse_html, utf16_len
from bot.intake.imports.columns import map_columns
from bot.intake.imports.preview import Preview
from bot.intake.imports.rows import Rejection
from bot.leads.cards import EXTRA_LIMIT, FIELD_LIMIT, MESSAGE_LIMIT, NAME_LIMIT
from bot.leads.lists import LeadList
from bot.leads.notes import ShownLine
from bot.leads.overdue import Breach
from bot.reports.campaigns import CampaignRow
from bot.reports.chart_data import ChartData
from bot.reports.chat import TOP, ChatReport, headline, sections
from bot.reports.digest import DayCounts, Digest, DigestLead
from bot.reports.files import ReportFile
from bot.reports.periods import MAX_DAYS, PeriodKind, RangeProblem
from bot.reports.request import ReportRequest
from bot.reports.spend import (
    LISTED,
    RECENT_LIMIT,
    SOURCE_LIMIT,
    SpendLine,
    SpendOverview,
    SpendProblem,
)
from bot.reports.summary import (
    Arrivals,
    Funnel,
    ManagerRow,
    MissedCalls,
    Repeat,
    ReportSummary,
    SourceRow,
)
from bot.self_service.requests import RequestView, SelfRefusal, Stage
from bot.sla.deadlines import Step
from bot.team.invites import InviteRefusal
from bot.team.menus import commands_for
from bot.team.overview import TeamMember
from bot.team.staff import MAX_CAPACITY, MAX_SKILL_LENGTH, MAX_SKILLS, StaffRefusal
from handlers.import_desk import preview_context
from storage.models import Lead, LeadStatus, Role, Staff

Sample = dict[str, Any]

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
CONFIG = load_app_config()
STAFF_LIMITS = {
    "max_skills": MAX_SKILLS,
    "max_length": MAX_SKILL_LENGTH,
    "max_capacity": MAX_CAPACITY,
}
CARD_LIMITS = {
    "name": NAME_LIMIT,
    "field": FIELD_LIMIT,
    "message": MESSAGE_LIMIT,
    "extra": EXTRA_LIMIT,
}


def _lead(**fields: Any) -> Lead:
    values: dict[str, Any] = {
        "id": 42,
        "source": "tilda",
        "status": LeadStatus.NEW,
        "name": "Иван <Петров>",
        "phone": "+79001234567",
        "email": "ivan@example.com",
        "message": "Кухня & шкаф?",
        "service": "Кухня",
        "utm": {"utm_source": "ya", "utm_campaign": "spring"},
        "extra": {},
        "is_repeat": False,
        "owner_id": None,
        "offered_to_id": None,
        "close_reason": None,
        "close_comment": None,
        "merged_into_id": None,
        "possible_duplicate_of_id": None,
        "created_at": NOW - timedelta(minutes=5),
        "version": 3,
    }
    return Lead(**(values | fields))


def _staff(role: Role = Role.MANAGER, on_duty: bool = True, name: str = "Анна") -> Staff:
    return Staff(
        id=7,
        telegram_id=1001,
        name=name,
        role=role,
        on_duty=on_duty,
        is_active=True,
        skills=["vip"],
        capacity=5,
    )


def _member(role: Role = Role.MANAGER, **fields: Any) -> TeamMember:
    values: dict[str, Any] = {
        "staff_id": 7,
        "name": "Анна",
        "role": role,
        "on_duty": True,
        "open_leads": 5,
        "capacity": 5,
        "taken_today": 2,
        "skills": ("vip", "group_tour"),
    }
    return TeamMember(**(values | fields))


def _card(lead: Lead, **context: Any) -> Sample:
    """What bot/leads/cards.py card_view passes."""
    values: Sample = {
        "lead": lead,
        "owner_name": None,
        "is_mine": False,
        "arrived": "today 14:05",
        "utm": "google / cpc / spring_sale",
        "requests": 1,
        "reason_label": None,
        "call_back_due": None,
        "offered_name": None,
        "offered_to_me": False,
        "missed_call": None,
        "score_line": None,
        "limits": CARD_LIMITS,
    }
    return values | context


def _digest(**changes: Any) -> Sample:
    """What bot/reports/digest.py Digest.context() gives (JSON, as the outbox keeps it)."""
    digest = Digest(
        day="01.03.2026",
        counts=DayCounts(
            new=12,
            taken=10,
            contacted=8,
            converted=3,
            amount="450\u202f000.50",
            refused=2,
            junk=1,
            open=6,
        ),
        channels=[("tilda", 7), ("telegram", 4), ("other", 1)],
        overdue={"not_taken": 1, "callback_missed": 2, "stalled": 1},
        oldest_overdue=[
            DigestLead(5, "Иван", None, "not_taken", "01.03 18:00"),
            DigestLead(6, None, "+79001234567", "callback_missed", "01.03 19:00"),
            DigestLead(8, None, None, "stalled", "28.02 12:00"),
        ],
        waiting=1,
        oldest_waiting=[DigestLead(9, "Пётр", None, None, "02.03 08:00")],
        stale_today=3,
        currency="₽",
        stale_age=idle_age(timedelta(days=7)),
    )
    return replace(digest, **changes).context()


def _alert(kind: AlertKind, step: Step, **changes: Any) -> Sample:
    """What bot/sla/alerts.py headline_context gives."""
    values: Sample = {
        "kind": kind.value,
        "step": step.value,
        "lead_id": 42,
        "minutes": 75,
        "client": "Иван",
        "count": 2,
        "retries": 0,
    }
    return values | changes


def _report_sections() -> dict[str, list[Sample]]:
    """What bot/reports/chat.py sections() gives: a busy month (longer lists than shown, names
    with markup, a manager with no leads, a person's own report) and an empty day."""
    many = 3 * TOP
    summary = ReportSummary(
        first=date(2026, 2, 1),
        last=date(2026, 2, 28),
        timezone="Europe/Moscow",
        funnel=Funnel(900, 800, 700, 400, 300, 200, 150, 250, Decimal("123456789.50")),
        by_source=[
            SourceRow(f"<src {n}> & " + "x" * 60, 30, 25, 10, 5, 5, Decimal("99999.99"))
            for n in range(many)
        ],
        by_manager=[
            ManagerRow(
                n,
                f"Менеджер <{n}> " + "я" * 40,
                30,
                10,
                5,
                5,
                Decimal("1000.5"),
                95.0,
                5400.0,
                60.0,
                130.0,
            )
            for n in range(25)
        ]
        + [ManagerRow(99, "Новичок")],
        repeat=Repeat(800, 100),
        junk_reasons={f"junk_{n}": many - n for n in range(many)} | {"spam": 1, "stale": 1},
        refusal_reasons={f"why_{n}": many - n for n in range(many)} | {"price": 1},
        unmet_demand={f"<бассейн> & {n} " + "слово " * 30: many - n for n in range(many)},
        missed_calls=MissedCalls(40, 30, 25, 600.0),
        arrivals=Arrivals([n % 5 for n in range(24)], [9, 8, 7, 6, 5, 4, 3]),
    )
    # spend entered (/spend): costs on the sources' lines; a source with spend and no leads;
    # one with no deals; campaigns by utm (long, with markup) and by the bot's link
    priced = [
        SourceRow(
            "vk_ads",
            40,
            30,
            2,
            1,
            4,
            Decimal("100000"),
            spend=Decimal("999999999999.99"),
            cost_per_lead=Decimal("24999999999.99"),
            cost_per_deal=Decimal("499999999999.99"),
        ),
        SourceRow("tilda", 3, 1, 0, 0, 1, Decimal("0.00"), Decimal("10"), Decimal("3.33")),
        SourceRow("<b>call</b>", 0, 0, 0, 0, 0, Decimal("0.00"), spend=Decimal("0.00")),
    ]
    campaigns = [
        CampaignRow("<b>ya</b> & " + "я" * 100, "<i>осень</i> " + "x" * 200, None, 50, 5, 3),
        CampaignRow(None, "summer", None, 9, 0, 1, Decimal("1000.50")),
        CampaignRow("vk", None, None, 8),
        CampaignRow(None, None, "promo_" + "x" * 58, 7, 7, 0),
        *(CampaignRow("google", f"c{n}", None, 1) for n in range(many)),
        CampaignRow(None, None, None, 100),
    ]
    summary = replace(summary, by_source=priced + summary.by_source, by_campaign=campaigns)
    charts = ChartData(days=[], by_source={})
    samples: dict[str, list[Sample]] = {}
    month = (date(2026, 2, 1), date(2026, 2, 28))
    anna = Staff(id=7, telegram_id=3, name="Анна <b>" + "я" * 60, role=Role.MANAGER)
    reports = [
        ChatReport(ReportRequest(month, False, PeriodKind.THIS_MONTH), summary, charts, 1),
        ChatReport(ReportRequest(month, True, PeriodKind.LAST_30_DAYS), summary, charts, 3),
        ChatReport(
            ReportRequest(month, False, source="<src 1> & " + "x" * 60, manager=anna),
            summary,
            charts,
            1,
        ),
        ChatReport(  # typed dates of last year, one source of a manager's own leads
            ReportRequest(month, True, source="tilda", today=date(2027, 1, 5)),
            summary,
            charts,
            3,
        ),
        ChatReport(
            ReportRequest((date(2026, 3, 1),) * 2, True, PeriodKind.YESTERDAY),
            replace(summary, funnel=Funnel(), missed_calls=MissedCalls()),
            charts,
            1,
        ),
        ChatReport(
            ReportRequest((date(2026, 3, 2),) * 2, False, PeriodKind.TODAY, source="vk"),
            replace(
                summary,
                first=date(2026, 3, 2),
                last=date(2026, 3, 2),
                funnel=Funnel(received=1, open=1),
                by_source=[SourceRow("tilda", 1, 0, 0, 0, 0, Decimal("0.00"))],
                by_manager=[],
                junk_reasons={},
                refusal_reasons={},
                unmet_demand={},
                missed_calls=MissedCalls(),
            ),
            charts,
            1,
        ),
    ]
    for report in reports:
        for locale in LOCALES:
            for name, values in sections(report, CONFIG, locale):
                samples.setdefault(name, []).append(values)
    samples["report_pick.html.j2"] = [{"own": True}, {"own": False}]
    heads = [headline(report.request, CONFIG, locale) for report in reports for locale in LOCALES]
    samples["report_head.html.j2"] = heads
    samples["report_actions.html.j2"] = heads
    samples["report_filter_pick.html.j2"] = [
        head | {"what": what, "count": count, "page": page, "pages": pages}
        for head in heads[:4]
        for what in ("source", "manager")
        for count, page, pages in ((0, 0, 1), (30, 2, 4))
    ]
    drill_titles = ["🗑 Мусор: <спам> & " + "я" * 24, "📞 Not called back"]
    samples["report_drill.html.j2"] = [
        head | {"title": title, "total": total, "page": page, "pages": pages}
        for head in heads[:4]
        for title in drill_titles
        for total, page, pages in ((0, 0, 1), (800_000, 99_999, 100_000))
    ]
    samples["report_range_ask.html.j2"] = [{"max_days": MAX_DAYS}]
    samples["report_range_bad.html.j2"] = [
        {
            "problem": problem.value,
            "detail": detail,
            "typed": typed,
            "max_days": MAX_DAYS,
            "asking": asking,
        }
        for problem, detail, typed in (
            (RangeProblem.UNREADABLE, "", "<b>когда-нибудь</b> & " + "x" * 10_000),
            (RangeProblem.NO_SUCH_DAY, "31.02", "31.02"),
            (RangeProblem.REVERSED, "15.11.2026 – 01.11.2026", "15.11–01.11"),
            (RangeProblem.TOO_LONG, "01.01.2024 – 01.01.2026", "1.1.2024-1.1.2026"),
            (RangeProblem.FUTURE, "01.01.2030 – 01.01.2030", "1.1.2030"),
        )
        for asking in (True, False)
    ]
    samples["refusal_report_outdated.txt.j2"] = [{}]
    files = [what.value for what in ReportFile]
    samples["report_file.html.j2"] = [head | {"what": what} for head in heads for what in files]
    samples["report_file_too_big.html.j2"] = [head | {"what": files[0]} for head in heads]
    return samples


def _spend_samples() -> dict[str, list[Sample]]:
    """What handlers/spend.py passes: the longest sources, names with markup, the largest
    amounts, every refusal with 10 kB of markup typed."""
    longest = "x" * (SOURCE_LIMIT - 1) + "_"
    recent = [f"{n}{longest}"[:SOURCE_LIMIT] for n in range(RECENT_LIMIT)]
    most = "999\u202f999\u202f999\u202f999.99"
    line = SpendLine(longest, date(2026, 2, 1), Decimal("1"), "<b>Света</b> " + "я" * 120, NOW)
    full = SpendOverview(date(2026, 3, 1), date(2026, 2, 1), [line] * LISTED, 7, recent)
    empty = SpendOverview(date(2026, 3, 1), date(2026, 2, 1), [], 0, [])
    hostile = "<b>" * 3000 + "&"
    refusals = [
        {
            "problem": problem.value,
            "typed": longest if problem is SpendProblem.UNKNOWN_SOURCE else hostile,
            "recent": recent if problem is SpendProblem.UNKNOWN_SOURCE else (),
            "source_limit": SOURCE_LIMIT,
            "max_amount": most,
        }
        for problem in SpendProblem
        if problem is not SpendProblem.NOT_ALLOWED  # answered by supervisors_only
    ]
    return {
        "spend_usage.html.j2": [
            {"overview": full, "amounts": [most] * LISTED, "currency": "₽"},
            {"overview": empty, "amounts": [], "currency": "₽"},
        ],
        "spend_recorded.html.j2": [
            {
                "source": longest,
                "month": date(2026, 11, 1),
                "amount": most,
                "replaced": replaced,
                "currency": "₽",
            }
            for replaced in (None, most)
        ],
        "spend_refused.html.j2": refusals,
    }


def _import_samples() -> dict[str, list[Sample]]:
    """The import's messages at their largest: a hostile, long file name; more columns than
    the preview lists, with 10 kB headers; three rejected rows with long reasons."""
    name = "<b>Лиды</b> & 🎉 " + "Ж" * 300 + ".csv"
    huge = "З" * 10_240
    headers = [f"{huge}{n}" for n in range(40)]
    columns = map_columns(["Имя", "Телефон", *headers, "E-mail", "Статус", "Сумма"])
    full = Preview(name, "csv", "cp1251", "\t", columns, rows=50_000, new=40_000)
    full.duplicates, full.already, full.rejected = 5_000, 4_000, 1_000
    full.closed.update({"converted": 10_000, "refused": 3_000, "junk": 2_000})
    full.unknown_owners.update({huge: 3, "Анна": 2, "<b>x</b>": 1, "y": 1})
    full.unknown_statuses.update({huge: 3, "Переговоры": 2, "z": 1, "w": 1})
    full.samples = [
        Rejection(n, problem, "phone", huge, huge, ())
        for n, problem in ((2, "bad_phone"), (3, "future"), (4, "unreadable_line"))
    ]
    plain = Preview("leads.xlsx", "xlsx", None, None, map_columns(["Телефон"]), rows=3, new=3)
    nothing = Preview("x.csv", "csv", "utf-8", ";", map_columns(["?"]), rows=2, rejected=2)
    nothing.samples = [Rejection(2, "no_contact"), Rejection(3, "no_contact")]
    counts = {"created": 40_000, "attached": 5_000, "updated": 0, "skipped": 0}
    counts |= {"already": 4_000, "rejected": 1_000}
    return {
        "import_reading.html.j2": [{"file_name": name}],
        "import_preview.html.j2": [
            preview_context(preview, "ru") for preview in (full, plain, nothing)
        ],
        "import_progress.html.j2": [
            {"file_name": name, "rows": 50_000, "done": 12_500, **counts},
            {"file_name": "a.csv", "rows": 1, "done": 0, **dict.fromkeys(counts, 0)},
        ],
        "import_done.html.j2": [
            {"file_name": name, **counts},
            {"file_name": name, **dict.fromkeys(counts, 0)},
        ],
        "import_failed.html.j2": [{"file_name": name, "done": 12_500}],
        "import_cancelled.html.j2": [{"file_name": name}],
        "import_unreadable.html.j2": [
            {"file_name": name, "problem": problem}
            for problem in ("empty", "no_header", "old_excel", "bad_xlsx", "not_text", "failed")
        ],
        "import_too_big.html.j2": [{"file_name": name}],
        "import_rejected_file.html.j2": [{"file_name": name, "count": 1_000}],
        "import_usage.html.j2": [{}],
        "import_refused.html.j2": [{}],
        "import_refused.txt.j2": [{}],
        "import_expired.txt.j2": [{}],
    }


def _sequence_samples() -> dict[str, list[Sample]]:
    """Follow-up sequences (bot/sequences/sweep.py, bot/intake/sequence_answers.py)."""
    task = {"lead_id": 42, "client": "<Ира> & Ко", "sequence": "not_now"}
    return {
        "sequence_not_now.html.j2": [{"client": "<Ира> 🎉"}, {"client": None}],
        "sequence_task.html.j2": [
            task | {"task": "call_again", "phone": "+79001234567", "email": None},
            task | {"task": "reach_client", "phone": None, "email": "a@b.example", "client": None},
        ],
        "sequence_hot_headline.html.j2": [
            {"lead_id": 42, "answer": "yes"},
            {"lead_id": 42, "answer": "wrote"},
        ],
        "sequence_yes.html.j2": [{}],
        "sequence_stopped.html.j2": [{}],
        "sequence_ended.txt.j2": [{}],
        "sequence_not_yours.txt.j2": [{}],
        "client_linked.html.j2": [{}],
        "channel_usage.html.j2": [{}],
        "channel_set.html.j2": [
            {"lead_id": 42, "refusal": refusal, "channel": None}
            for refusal in ("not_found", "not_yours", "no_contact", "unknown_channel", None)
        ]
        + [{"lead_id": 42, "refusal": None, "channel": c} for c in ("telegram", "phone", "email")],
        "report_sequences.html.j2": [
            {"enrolled": 12, "sent": 9, "replies": 3, "reopened": 3, "converted_after": 1}
        ],
        "client_link_refused.html.j2": [
            {"reason": reason} for reason in ("unknown", "used", "taken", "staff")
        ],
    }


RECORDING_PROBLEMS = ("not_configured", "gone", "pbx_down", "too_large")

SAMPLES: dict[str, list[Sample]] = {
    **_report_sections(),
    **_import_samples(),
    **_spend_samples(),
    **_sequence_samples(),
    "admin_only.html.j2": [{}],
    "callback_ask_time.html.j2": [{"lead_id": 42, "zone": "Europe/Moscow"}],
    "callback_done.txt.j2": [{"lead_id": 42}],
    "callback_pick.txt.j2": [{"lead_id": 42}],
    "callback_scheduled.html.j2": [{"lead_id": 42, "due": "02.03 15:30"}],
    "callback_scheduled.txt.j2": [{"lead_id": 42, "due": "02.03 15:30"}],
    "callback_unreadable.html.j2": [{"text": "<когда-нибудь> & потом"}],
    "card.html.j2": [
        _card(_lead()),
        _card(
            _lead(), score_line="🔥 72 % · <b>Tilda</b> & co ×1.8 · evening ×1.3 · no e-mail ×0.6"
        ),
        _card(
            _lead(is_repeat=True, possible_duplicate_of_id=41),
            requests=3,
            offered_name="Борис",
            offered_to_me=True,
        ),
        _card(_lead(offered_to_id=8), offered_name="Борис"),
        _card(
            _lead(
                status=LeadStatus.CONVERTED,
                owner_id=7,
                bitrix24_contact_id=9_007_199_254_740_991,
                bitrix24_deal_id=9_007_199_254_740_993,
            ),
            owner_name="Анна",
        ),
        _card(_lead(status=LeadStatus.IN_WORK, owner_id=7), owner_name="Анна", is_mine=True),
        _card(
            _lead(status=LeadStatus.CALL_BACK, owner_id=8),
            owner_name="Борис",
            call_back_due="02.03 15:30",
        ),
        _card(
            _lead(
                status=LeadStatus.JUNK,
                close_reason="spam",
                close_comment="бот",
                merged_into_id=40,
                name=None,
                email=None,
                service=None,
                message=None,
                utm={},
            ),
            reason_label="Спам",
        ),
        _card(
            _lead(source="call"),
            missed_call={
                "open": True,
                "phone": "+79001234567",
                "count": 2,
                "last": "09:10",
                "next": "09:40",
                "called_back": None,
            },
        ),
        _card(
            _lead(status=LeadStatus.IN_WORK, owner_id=7),
            owner_name="Анна",
            missed_call={
                "open": False,
                "phone": "+79001234567",
                "count": 1,
                "last": "09:10",
                "next": None,
                "called_back": "09:20",
            },
        ),
    ],
    "client_after_hours.html.j2": [{"opens": "03.03 09:00"}],
    "client_own_phone_only.html.j2": [{}],
    "client_phone_saved.html.j2": [{}],
    "client_phone_unreadable.html.j2": [{}],
    "client_received.html.j2": [{}],
    "client_reply.html.j2": [{"manager": "Анна", "text": "Перезвоню в 15:00 <b>сегодня</b>"}],
    "client_slow_down.html.j2": [{}],
    "client_text_only.html.j2": [{}],
    "close_ask_comment.html.j2": [
        {"lead_id": 42, "reason": "Другое", "code": "other", "outcome": "junk"},
        {"lead_id": 42, "reason": "Нет услуги", "code": "no_service", "outcome": "refuse"},
    ],
    "close_pick.txt.j2": [{"lead_id": 42, "outcome": "junk"}, {"lead_id": 42, "outcome": "refuse"}],
    "closed.html.j2": [
        {"lead_id": 42, "reason": "Спам", "comment": "реклама <окон>", "outcome": "junk"},
        {"lead_id": 42, "reason": "Дорого", "comment": None, "outcome": "refuse"},
    ],
    "closed.txt.j2": [
        {"lead_id": 42, "reason": "Спам", "outcome": "junk"},
        {"lead_id": 42, "reason": "Дорого", "outcome": "refuse"},
    ],
    "converted.html.j2": [
        {"lead_id": 42, "amount": "150\u202f000", "currency": "₽"},
        {"lead_id": 42, "amount": None, "currency": "₽"},
    ],
    "dialogue_abandoned.html.j2": [
        {"lead_id": 42, "minutes": 30},
        {"lead_id": None, "minutes": 120},
        {"lead_id": 42, "minutes": 2880},
    ],
    "webhook_failed.html.j2": [
        {
            "target": "crm-<b>&",
            "event": "lead.created",
            "lead_id": 42,
            "error": "HTTP 503 <Service Unavailable> & " + "x" * 300,
            "failed": 1,
        },
        {
            "target": "bitrix24",
            "event": "lead.converted",
            "lead_id": None,
            "error": "Bitrix24 crm.deal.add: HTTP 400: Invalid value for the Currency field",
            "failed": 12,
        },
    ],
    "delivery_failed.html.j2": [
        {"lead_id": 42, "recipient": "Anna", "unrenderable": True, "error": "card could not be"},
        {
            "lead_id": 42,
            "recipient": None,
            "unrenderable": False,
            "error": "Bad Request: can't parse entities <b> & " + "x" * 300,
        },
    ],
    "dialogue_cancelled.html.j2": [{}],
    "dialogue_cancelled.txt.j2": [{}],
    "dialogue_wants_text.html.j2": [{}],
    "digest.html.j2": [
        _digest(),
        _digest(
            channels=[],
            overdue={},
            oldest_overdue=[],
            waiting=0,
            oldest_waiting=[],
            stale_today=0,
            stale_age={},
        ),
    ],
    "duty.html.j2": [{"on_duty": on, "role": role.value} for role in Role for on in (True, False)],
    "find_ask.html.j2": [{}],
    "staff_help.html.j2": [{"role": role.value, "commands": commands_for(role)} for role in Role],
    "found.html.j2": [
        {"query": "+7 900", "count": 3},
        {"query": "Иван", "count": 20},
        {"query": "<nobody>", "count": 0},
    ],
    "recording_sending.txt.j2": [{"lead_id": 42}],
    "recording_problem.txt.j2": [{"problem": p} for p in RECORDING_PROBLEMS],
    "recording_failed.html.j2": [{"lead_id": 42, "problem": p} for p in RECORDING_PROBLEMS],
    "history.html.j2": [
        {
            "lead_id": 42,
            "page": 0,
            "pages": 1,
            "lines": [
                ShownLine("02.03 09:00", None, "created", None),
                ShownLine("02.03 09:20", "Анна", "recording", "2:35"),
            ],
        },
        {
            "lead_id": 42,
            "page": 0,
            "pages": 1,
            "lines": [
                ShownLine("02.03 09:00", None, "created", None),
                ShownLine("02.03 09:05", "Анна", "taken", None),
                ShownLine("02.03 09:10", "Анна", "junk", "Спам — реклама <окон>"),
            ],
        },
        {
            "lead_id": 42,
            "page": 1,
            "pages": 3,
            "lines": [ShownLine("02.03 09:00", "Анна", "note", "позвонить & уточнить")],
        },
    ],
    "invite_created.html.j2": [
        {
            "role": role.value,
            "zone": "Europe/Moscow",
            "expires": "04.03 09:30",
            "link": "https://t.me/leadbot_test_bot?start=abc_DEF-123",
        }
        for role in (Role.MANAGER, Role.SUPERVISOR)
    ],
    "invite_joined.html.j2": [
        {"joined": True, "staff": _staff()},
        {"joined": False, "staff": _staff(Role.SUPERVISOR)},
    ],
    "invite_refused.html.j2": [
        {
            "reason": reason.value,
            "staff": _staff() if reason is InviteRefusal.ALREADY_STAFF else None,
        }
        for reason in InviteRefusal
    ],
    "invite_usage.html.j2": [{"ttl_minutes": 2880}, {"ttl_minutes": 90}],
    "invite_used.html.j2": [{"person": "Алекс (@alex)", "role": "manager"}],
    "lead_appended.html.j2": [
        {"lead_id": 42, "message": "И ещё шкаф <в прихожую>", "source": "tilda"},
        {"lead_id": 42, "message": None, "source": None},
    ],
    "lead_list.html.j2": [
        {"kind": kind.value, "total": total, "page": 1 if total else 0, "pages": 3 if total else 1}
        for kind in LeadList
        for total in (24, 0)
    ],
    "lead_waiting.html.j2": [{"lead_id": 42, "skill": "vip"}, {"lead_id": 42, "skill": None}],
    "lists_menu.html.j2": [{}],
    "merge_confirm.txt.j2": [{"lead_id": 42, "into_id": 41}],
    "merge_usage.html.j2": [{}],
    "merged.html.j2": [{"lead_id": 42, "into_id": 41}],
    "merged.txt.j2": [{"lead_id": 42, "into_id": 41}],
    "missed_call.html.j2": [{"lead_id": 42, "phone": "+79001234567", "at": "09:10"}],
    "missed_call_done.txt.j2": [{"lead_id": 42}],
    "missed_call_retry.txt.j2": [{"lead_id": 42, "due": "02.03 10:00"}],
    "note_added.html.j2": [{"lead_id": 42}],
    "note_ask.html.j2": [{"lead_id": 42}],
    "nothing_to_cancel.html.j2": [{}],
    "press_failed.txt.j2": [{}],
    "qualified.html.j2": [
        {"lead_id": 42, "saved": ["Имя", "Услуга"]},
        {"lead_id": 42, "saved": []},
    ],
    "qualify_step.html.j2": [
        {
            "lead_id": 42,
            "action": action,
            "step": 1,
            "steps": 4,
            "field": field,
            "label": field.ru,
            "value": value,
            "missing": missing,
            "currency": "₽",
        }
        for field in CONFIG.deal_fields
        for action, value, missing in (
            ("convert", None, ["Имя", "Услуга"]),
            ("qualify", "Кухня <угловая>", []),
        )
    ],
    "qualify_unreadable.html.j2": [
        {"field": field, "label": field.ru} for field in CONFIG.deal_fields
    ],
    "reassign_pick.txt.j2": [{"lead_id": 42}],
    "reassigned.txt.j2": [{"lead_id": 42, "owner": "Борис"}],
    "reassigned_away.html.j2": [{"lead_id": 42, "by": "Света", "to": "Борис"}],
    "reassigned_to_you.html.j2": [{"lead_id": 42, "by": "Света"}],
    "refusal_already_taken.txt.j2": [{"owner": "Борис"}, {"owner": None}],
    "refusal_closed.txt.j2": [{}],
    "refusal_deal_not_merged.txt.j2": [{"lead_id": 42}],
    "refusal_missing_fields.html.j2": [
        {"lead_id": 42, "missing": "Имя"},
        {"lead_id": 42, "missing": "Имя, Услуга"},
    ],
    "refusal_missing_fields.txt.j2": [{"lead_id": 42}],
    "refusal_not_allowed.txt.j2": [{}],
    "refusal_not_found.txt.j2": [{}],
    "refusal_not_staff.txt.j2": [{}],
    "refusal_not_yours.txt.j2": [{"owner": "Борис"}, {"owner": None}],
    "refusal_offered_to_other.txt.j2": [{"owner": "Борис"}, {"owner": None}],
    "refusal_outdated.txt.j2": [{}],
    "refusal_unknown_reason.txt.j2": [{}],
    "reopened.txt.j2": [{"lead_id": 42, "owner": "Анна"}, {"lead_id": 42, "owner": None}],
    "reply_not_sent.html.j2": [
        {"refusal": "Лид уже взял(а) Борис.", "text": "Здравствуйте! <Цена> & сроки"}
    ],
    "reply_ask.html.j2": [
        {"lead_id": 42},
        {"lead_id": 42, "address": None},
        {"lead_id": 42, "address": "kate+<x>@example.com"},
    ],
    "email_off.txt.j2": [{}],
    "email_off.html.j2": [{}],
    "email_no_sticker.html.j2": [{}],
    "email_too_big.html.j2": [{"size_mb": 12.5, "limit_mb": 10}],
    "email_sent.html.j2": [{"lead_id": 42, "address": "kate@example.com"}],
    "email_bounced.html.j2": [
        {"lead_id": 42, "address": "kate@example.com", "reason": "550 5.1.1 <kate>: no such user"},
        {"lead_id": 42, "address": "kate@example.com", "reason": "5" * 400},
    ],
    "email_failed.html.j2": [
        {"lead_id": 42, "address": "kate@example.com", "reason": "451 4.3.0 try later & <soon>"},
        {"lead_id": 42, "address": "kate@example.com", "reason": "x" * 600},
    ],
    "reply_blocked.html.j2": [{"lead_id": 42}],
    "reply_failed.html.j2": [
        {"lead_id": 42, "reason": "Bad Request: message to copy not found"},
        {"lead_id": 42, "reason": "Bad Request: <chat> & " + "x" * 300},
    ],
    "reply_sent.html.j2": [{"lead_id": 42}],
    "sla_alert.html.j2": [
        *(_alert(kind, step) for kind in AlertKind for step in Step),
        _alert(AlertKind.MISSED_CALL, Step.REMIND, retries=1, count=1, minutes=30),
        _alert(AlertKind.MISSED_CALL, Step.REMIND, retries=2),
        _alert(AlertKind.CALL_BACK, Step.REMIND, minutes=0, client=None),
        _alert(AlertKind.NO_CONTACT, Step.REMIND, minutes=20),
    ],
    "sla_settled.html.j2": [
        {"lead_id": 42, "kind": "not_taken", "closed": False, "owner": "Boris", "at": "14:05"},
        {"lead_id": 42, "kind": "not_taken", "closed": False, "owner": None, "at": "14:05"},
        {"lead_id": 42, "kind": "callback", "closed": True, "owner": "<b>Anna</b>", "at": "14:05"},
        {"lead_id": 42, "kind": "answer", "closed": False, "owner": "Anna", "at": "04.01 14:05"},
    ],
    "snoozed.txt.j2": [{"lead_id": 42, "until": "02.03 09:45"}],
    "staff_ask.html.j2": [
        {"what": "skills", "member": _member(), **STAFF_LIMITS},
        {"what": "skills", "member": _member(skills=()), **STAFF_LIMITS},
        {"what": "capacity", "member": _member(), **STAFF_LIMITS},
        {"what": "capacity", "member": _member(capacity=None), **STAFF_LIMITS},
    ],
    "staff_deactivated.html.j2": [
        {"by": "Администратор", "lead_ids": [41, 42]},
        {"by": None, "lead_ids": [42]},
        {"by": None, "lead_ids": []},
    ],
    "staff_deactivated_page.html.j2": [
        {"person": "Анна", "returned": (41, 42)},
        {"person": "Анна", "returned": (42,)},
        {"person": "Анна", "returned": ()},
    ],
    "staff_done.txt.j2": [{"what": "role", "person": "Анна", "role": role.value} for role in Role]
    + [{"what": "deactivated", "person": "Анна", "count": count} for count in (0, 1, 3)],
    "staff_input_cancelled.html.j2": [{}],
    "staff_list.html.j2": [
        {"people": [_staff(), _staff(Role.SUPERVISOR, False, "Света"), _staff(Role.ADMIN)]},
    ],
    "staff_page.html.j2": [
        {"member": _member(role), "notice": notice, "confirm": confirm}
        for role in Role
        for notice, confirm in (
            (None, False),
            ("skills", False),
            ("capacity", False),
            ("role", False),
            (None, True),
        )
    ]
    + [
        {"member": _member(capacity=None, open_leads=1, skills=()), "notice": None, "confirm": True}
    ],
    "staff_refusal.txt.j2": [{"reason": reason.value} for reason in StaffRefusal],
    "staff_role_changed.html.j2": [{"by": "Администратор", "role": role.value} for role in Role],
    "staff_unreadable.html.j2": [
        {"problem": problem, **STAFF_LIMITS}
        for problem in ("too_many", "too_long", "characters", "capacity")
    ],
    "stale_closed.html.j2": [
        {
            "total": 12,
            "more": 2,
            "age": idle_age(timedelta(days=7)),
            "leads": [
                {"id": 41, "name": "Иван", "phone": None, "email": None},
                {"id": 42, "name": None, "phone": "+79001234567", "email": None},
                {"id": 43, "name": None, "phone": None, "email": "a@example.com"},
                {"id": 44, "name": None, "phone": None, "email": None},
            ],
        },
        {
            "total": 1,
            "more": 0,
            "age": idle_age(timedelta(hours=36)),
            "leads": [{"id": 41, "name": "Иван", "phone": None, "email": None}],
        },
        {
            "total": 1,
            "more": 0,
            "age": {},
            "leads": [{"id": 41, "name": "Иван", "phone": None, "email": None}],
        },
    ],
    # client self-service (handlers/self_service/): hostile names, every stage and refusal
    "self_menu.html.j2": [{}],
    "self_pick_service.html.j2": [{}],
    "self_pick_slot.html.j2": [{"service": None}, {"service": "<b>Ремонт</b> 🛠" * 4}],
    "self_ask_phone.html.j2": [{"at": "5 Jan 13:00"}],
    "self_phone_only.html.j2": [{}],
    "self_received.html.j2": [
        {"lead_id": 42, "service": "<i>Installation</i>", "at": "5 Jan 13:00"},
        {"lead_id": 42, "service": None, "at": "05.01 13:00"},
    ],
    "self_request.html.j2": [
        {"view": RequestView(42, stage, "<b>x</b>" * 20, call_at), "at": at}
        for stage in Stage
        for call_at, at in ((None, None), (datetime(2026, 1, 5, tzinfo=UTC), "5 Jan 13:00"))
    ],
    "self_refused.html.j2": [
        {
            "reason": reason.value,
            "view": RequestView(42, Stage.CALL_BACK, None, None),
            "at": "5 Jan 16:00",
        }
        for reason in SelfRefusal
    ]
    + [{"reason": "no_slots", "view": None, "at": None}],
    "self_pick_move.html.j2": [{}],
    "self_moved.html.j2": [{"at": "5 Jan 15:30"}],
    "self_confirm_cancel.html.j2": [{"lead_id": 42}],
    "self_cancelled.html.j2": [{"lead_id": 42}],
    "self_kept.html.j2": [{}],
    "self_nudged.html.j2": [{"lead_id": 42}],
    "client_moved_call.html.j2": [{"lead_id": 42, "at": "5 Jan 15:30"}],
    "client_cancelled.html.j2": [{"lead_id": 42}],
    "client_nudged.html.j2": [
        {"lead_id": 42, "client": "<script>" * 2000},
        {"lead_id": 42, "client": None},
    ],
    "start_guest.html.j2": [{}],
    "start_staff.html.j2": [
        {"staff": _staff(role, on_duty)} for role in Role for on_duty in (True, False)
    ],
    "supervisors_only.html.j2": [{}],
    "taken.txt.j2": [{"lead_id": 42}],
    "taken_over.txt.j2": [{"lead_id": 42}],
    "team.html.j2": [
        {
            "day": "02.03",
            "members": [
                _member(),
                _member(on_duty=False, capacity=None, skills=()),
                _member(open_leads=1),
            ],
        },
        {"day": "02.03", "members": []},
    ],
    "team_refused.html.j2": [{}],
    # e-mail intake (issue 17)
    "email_mailbox_down.html.j2": [
        {"mailbox": "sales@example.com/INBOX", "error": "LOGIN failed <b>&"},
        {"mailbox": "<x>" * 2000, "error": "x" * 5000},
    ],
    "email_mailbox_back.html.j2": [{"mailbox": "sales@example.com/INBOX"}],
    "email_files_too_big.html.j2": [
        {"lead_id": 42, "files": [{"name": "video <1>.mp4", "size": "31.2 MB"}]},
        {"lead_id": 42, "files": [{"name": "я" * 10000, "size": "12 MB"}] * 100},
    ],
    "email_file.html.j2": [
        {"lead_id": 42, "file_name": "offer & <price>.pdf"},
        {"lead_id": 42, "file_name": "ф" * 10000},
    ],
}

# --- click-to-call (issue 17): every 📞 Call alert gets handlers/card/dial.dial_alert's context;
# the longest: a 19-digit Telegram id, a supervisor, a 30-character name, the PBX's 120 chars
DIAL_SAMPLES: list[Sample] = [
    {
        "lead_id": 42,
        "extension": "101",
        "reason": "Not authorized",
        "telegram_id": 1001,
        "role": "manager",
        "staff_name": "Anna",
    },
    {
        "lead_id": 2147483647,
        "extension": "1" * 32,
        "reason": "<b>" + "x" * 117,
        "telegram_id": 9007199254740991,  # 2**53 - 1: Telegram's ids fit 52 bits
        "role": "supervisor",
        "staff_name": "Я" * 30,
    },
]
SAMPLES |= {
    f"dial_{outcome}.txt.j2": DIAL_SAMPLES
    for outcome in (
        "calling",
        "no_extension",
        "no_phone",
        "not_configured",
        "in_progress",
        "pbx_refused",
        "pbx_unreachable",
    )
}


def _templates(locale: str) -> set[str]:
    return {path.name for path in (TEMPLATES_DIR / locale).glob("*.j2")}


TEMPLATES = sorted(set().union(*(_templates(locale) for locale in LOCALES)))


def test_the_environment_is_strict_so_a_sample_must_hold_every_value() -> None:
    with pytest.raises(jinja2.UndefinedError):
        render("callback_done.txt.j2", "en")


def test_every_template_is_in_both_languages_and_no_sample_is_left_over() -> None:
    assert _templates("ru") == _templates("en")
    left_over = set(SAMPLES) - set(TEMPLATES)
    assert not left_over, f"samples of no template: {left_over}"


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("name", TEMPLATES)
def test_every_template_renders_from_its_samples(name: str, locale: str) -> None:
    samples = SAMPLES.get(name)
    if not samples:
        pytest.fail(
            f"templates/{locale}/{name} has no sample context in SAMPLES "
            f"(tests/unit/test_templates.py): add what the code passes it"
        )
    for context in samples:
        if name.endswith(".txt.j2"):
            _check_alert(name, locale, context)
        else:
            _check_html(name, locale, context)


def _check_html(name: str, locale: str, context: Sample) -> None:
    text = render(name, locale, **context)
    shown = parse_html(text).text  # raises as Telegram would on bad markup
    assert shown.strip(), f"{locale}/{name} is empty with {context}"
    assert utf16_len(shown) <= TELEGRAM_TEXT_LIMIT, f"{locale}/{name} is too long"
    assert "None" not in shown, f"{locale}/{name} shows a None: {shown!r}"
    _names_its_lead(name, locale, context, shown)


def _check_alert(name: str, locale: str, context: Sample) -> None:
    alert = render_alert(name.removesuffix(".txt.j2"), locale, **context)
    assert alert.strip(), f"{locale}/{name} is empty with {context}"
    assert "None" not in alert, f"{locale}/{name} shows a None: {alert!r}"
    _names_its_lead(name, locale, context, alert)
    whole = render(name, locale, **context)
    assert alert == whole, f"{locale}/{name} is cut to fit a pop-up ({ALERT_LIMIT}): {whole!r}"


def _names_its_lead(name: str, locale: str, context: Sample, text: str) -> None:
    """A message about a lead says which: #42."""
    if context.get("lead_id") is not None:
        assert f"#{context['lead_id']}" in text, f"{locale}/{name} does not name its lead: {text!r}"


@pytest.mark.parametrize("locale", LOCALES)
def test_the_digest_names_every_breach_in_words(locale: str) -> None:
    """digest.html.j2 words each Breach itself (a new one would show as its bare value)."""
    oldest = [
        DigestLead(n, "Иван", None, breach.value, "01.03 18:00")
        for n, breach in enumerate(Breach, start=1)
    ]
    sample = _digest(overdue={breach.value: 1 for breach in Breach}, oldest_overdue=oldest)
    text = render("digest.html.j2", locale, **sample)
    assert [breach for breach in Breach if breach.value in text] == []
