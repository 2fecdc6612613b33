"""Templates and cards: escaping, size limits, languages, config parsing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.adapters.telegram.limits import MARGIN, Pace, SendLimits
from bot.common.durations import parse_duration
from bot.common.render import (
    LOCALES,
    TEMPLATES_DIR,
    cut,
    render_alert,
    utf16_length,
    visible_length,
)
from bot.config import ConfigError, Settings, load_app_config
from bot.leads.cards import CardAction, Reader, card_view
from storage.models import Lead, LeadStatus, Role

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _lead(**fields: object) -> Lead:
    values: dict[str, object] = {
        "id": 7,
        "source": "web_form",
        "status": LeadStatus.NEW,
        "name": "Ivan",
        "phone": "+79001234567",
        "email": None,
        "message": "hello",
        "service": None,
        "utm": {},
        "extra": {},
        "is_repeat": False,
        "owner_id": None,
        "close_comment": None,
        "created_at": NOW - timedelta(minutes=5),
        "version": 1,
    }
    values.update(fields)
    return Lead(**values)


def test_every_template_exists_in_both_languages() -> None:
    names = {p.name for p in (TEMPLATES_DIR / "ru").iterdir()}
    assert names == {p.name for p in (TEMPLATES_DIR / "en").iterdir()}
    assert {"card.html.j2", "labels.toml"} <= names
    assert LOCALES == ("ru", "en")


def test_user_text_is_escaped_and_the_card_fits_whatever_the_lead_holds() -> None:
    worst = _lead(
        name="<b>" + "😀" * 10_000,
        message="</i>&" * 5000,
        email="a@b.ru",
        service="<script>" * 300,
        utm={"utm_source": "<x>" * 100},
        is_repeat=True,
    )
    view = card_view(worst, "<Owner>" * 100, Reader(None, None, "ru"), NOW, requests=3)
    assert visible_length(view.text) <= 4096
    assert "<script>" not in view.text and "&lt;script&gt;" in view.text
    assert "</i>" not in view.text
    assert "…" in view.text


def test_card_buttons_depend_on_status_and_reader() -> None:
    manager = Reader(staff_id=1, role=Role.MANAGER, locale="en")
    other = Reader(staff_id=2, role=Role.MANAGER, locale="en")
    supervisor = Reader(staff_id=3, role=Role.SUPERVISOR, locale="en")
    team_chat = Reader(staff_id=None, role=None, locale="en")
    new = _lead()
    taken = _lead(status=LeadStatus.IN_WORK, owner_id=1)
    calling = _lead(status=LeadStatus.CALL_BACK, owner_id=1)
    junk = _lead(status=LeadStatus.JUNK, close_reason="spam")
    a = CardAction
    working = (a.CALL_BACK, a.QUALIFY, a.CONVERT, a.REFUSE, a.JUNK, a.NOTE, a.HISTORY)
    assert card_view(new, None, other, NOW).actions == (a.TAKE, a.REFUSE, a.JUNK)
    assert card_view(new, None, team_chat, NOW).actions == (a.TAKE, a.JUNK)
    assert card_view(taken, "Anna", manager, NOW).actions == working
    assert card_view(taken, "Anna", other, NOW).actions == ()
    assert card_view(taken, "Anna", team_chat, NOW).actions == ()
    assert card_view(taken, "Anna", supervisor, NOW).actions == (*working, a.REASSIGN)
    assert card_view(new, None, supervisor, NOW).actions == (
        a.TAKE,
        a.REFUSE,
        a.JUNK,
        a.REASSIGN,
    )
    assert card_view(calling, "Anna", manager, NOW).actions == (
        a.DONE,
        a.RESCHEDULE,
        a.REFUSE,
        a.JUNK,
        a.NOTE,
        a.HISTORY,
    )
    assert card_view(calling, "Anna", other, NOW).actions == ()
    assert card_view(junk, None, manager, NOW).actions == ()
    assert card_view(junk, None, supervisor, NOW).actions == (a.REOPEN, a.HISTORY)
    assert "taken by Anna" in card_view(taken, "Anna", other, NOW).text
    assert "yours" in card_view(taken, "Anna", manager, NOW).text
    # the arrival time, not an age that would go stale on a card edited rarely
    assert "🕒 today 11:55" in card_view(new, None, other, NOW).text


def test_call_is_the_owners_first_button_with_click_to_call_on_and_a_phone() -> None:
    """[telephony] click_to_call on (`dial`): 📞 Call first on the owner's card of a worked lead
    with a phone; nobody else's card, no lead without a phone, and nothing with it off."""
    owner = Reader(staff_id=1, role=Role.MANAGER, locale="en")
    supervisor = Reader(staff_id=3, role=Role.SUPERVISOR, locale="en")
    a = CardAction
    working = (a.CALL_BACK, a.QUALIFY, a.CONVERT, a.REFUSE, a.JUNK, a.NOTE, a.HISTORY)
    taken = _lead(status=LeadStatus.IN_WORK, owner_id=1)
    assert taken.phone  # the sample lead has one
    assert card_view(taken, "Anna", owner, NOW, dial=True).actions == (a.DIAL, *working)
    assert card_view(taken, "Anna", owner, NOW).actions == working  # off
    # a supervisor who does not own it: no call through the owner's line
    assert a.DIAL not in card_view(taken, "Anna", supervisor, NOW, dial=True).actions
    calling = _lead(status=LeadStatus.CALL_BACK, owner_id=1)
    assert card_view(calling, "Anna", owner, NOW, dial=True).actions[0] is a.DIAL
    no_phone = _lead(status=LeadStatus.IN_WORK, owner_id=1, phone=None)
    assert card_view(no_phone, "Anna", owner, NOW, dial=True).actions == working
    assert card_view(_lead(), None, owner, NOW, dial=True).actions == (a.TAKE, a.REFUSE, a.JUNK)


def test_dates_read_in_the_readers_format_and_a_card_shows_when_the_lead_arrived() -> None:
    from zoneinfo import ZoneInfo

    from bot.common.render import arrival_time, local_time

    moscow = ZoneInfo("Europe/Moscow")
    moment = datetime(2026, 1, 4, 11, 5, tzinfo=UTC)  # 14:05 in Moscow
    assert local_time(moment, moscow, "ru") == "04.01 14:05"
    assert local_time(moment, moscow, "en") == "4 Jan 14:05"
    same_day = moment + timedelta(hours=5)
    assert arrival_time(moment, same_day, moscow, "en") == "today 14:05"
    assert arrival_time(moment, same_day, moscow, "ru") == "сегодня 14:05"
    next_day = moment + timedelta(days=1)
    assert arrival_time(moment, next_day, moscow, "en") == "4 Jan 14:05"
    assert arrival_time(moment, next_day, moscow, "ru") == "04.01 14:05"


def test_cut_counts_utf16_units_like_telegram() -> None:
    assert utf16_length("😀") == 2
    assert cut("😀😀😀", 4) == "😀…"
    assert cut("short", 10) == "short"
    assert utf16_length(cut("😀" * 100, 51)) <= 51


def test_alerts_are_plain_text_within_200_characters() -> None:
    text = render_alert("refusal_already_taken", "ru", owner="<Анна>" * 100)
    assert text.startswith("Лид уже взял(а) <Анна>")  # shown verbatim by Telegram, not HTML
    assert len(text) <= 200


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("2h", 7200),
        ("1d", 86400),
        ("1h30m", 5400),
        ("0.05s", 0.05),
        ("45", 45),
    ],
)
def test_durations_read_as_written_in_config(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "5x", "m15", "1h soon"])
def test_unreadable_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_config_file_overrides_defaults_and_bad_files_give_one_line(tmp_path: Path) -> None:
    good = tmp_path / "leadbot.toml"
    good.write_text('locale = "en"\n[time_limits]\nin_work = "1d"\n[telegram]\nretry_base = "2s"\n')
    config = load_app_config(good)
    assert config.locale == "en" and config.time_limits["in_work"] == timedelta(days=1)
    assert config.telegram.retry_base == timedelta(seconds=2)
    assert config.telegram.per_chat_per_second == 1  # untouched defaults stay
    broken = tmp_path / "broken.toml"
    broken.write_text("locale = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_app_config(broken)
    with pytest.raises(ConfigError, match="not found"):
        load_app_config(tmp_path / "missing.toml")
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('[time_limits]\nin_work = "soon"\n')
    with pytest.raises(ConfigError, match=r"^config: time_limits\.in_work: cannot read duration"):
        load_app_config(wrong)


def test_the_old_not_taken_key_is_read_as_the_new_one_with_a_warning_naming_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    old = tmp_path / "old.toml"
    old.write_text('[time_limits]\nnew = "5m"\nin_work = "1d"\n')
    config = load_app_config(old)
    assert config.sla.not_taken.remind == timedelta(minutes=5)  # one setting: the reminder's
    assert config.sla.not_taken.escalate == timedelta(minutes=30)  # the rest as shipped
    assert config.time_limits == {"in_work": timedelta(days=1)}
    [warning] = [r.getMessage() for r in caplog.records if r.name == "leadbot.config"]
    assert warning == (
        "config: [time_limits] new is now [sla.not_taken] remind; it is read as that "
        "(write the new key)"
    )
    both = tmp_path / "both.toml"
    both.write_text('[time_limits]\nnew = "5m"\n[sla.not_taken]\nremind = "20m"\n')
    assert load_app_config(both).sla.not_taken.remind == timedelta(minutes=20)  # new key wins
    wrong = tmp_path / "wrong.toml"
    wrong.write_text('[time_limits]\nnew = "soon"\n')
    with pytest.raises(ConfigError, match=r"sla\.not_taken\.remind: cannot read duration"):
        load_app_config(wrong)


@pytest.mark.parametrize(
    ("overrides", "says"),
    [
        ({"timezone": "Mars/Base"}, "timezone: unknown time zone 'Mars/Base'"),
        ({"sla": {"snooze": "off"}}, "sla.snooze: must be a duration longer than zero"),
        ({"staff": {"invite_ttl": "0s"}}, "staff.invite_ttl: must be a duration longer than zero"),
        ({"routing": {"offer_timeout": "soon"}}, "routing.offer_timeout: cannot read duration"),
        ({"sla": {"auto_close_after": "off"}}, None),
    ],
)
def test_every_duration_setting_reads_the_same_way_and_names_itself_when_wrong(
    overrides: dict[str, object], says: str | None
) -> None:
    if says is None:
        assert load_app_config(overrides=overrides).sla.auto_close_after is None
        return
    with pytest.raises(ConfigError) as refused:
        load_app_config(overrides=overrides)
    assert str(refused.value).startswith(f"config: {says}")
    assert "\n" not in str(refused.value)


def test_settings_read_admin_ids_and_refuse_malformed_tokens(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ADMIN_IDS", "1, 22,333")
    monkeypatch.setenv("LEADS_CHAT_ID", "")
    assert Settings(_env_file=None).admin_ids == [1, 22, 333]  # type: ignore[call-arg]
    monkeypatch.setenv("BOT_TOKEN", "not-a-token")
    with pytest.raises(ValueError, match="BOT_TOKEN is malformed"):
        Settings(_env_file=None)  # type: ignore[call-arg]


def test_pace_allows_a_burst_then_one_per_interval() -> None:
    pace = Pace(rate=1.0, burst=3)
    assert [pace.book(0.0) for _ in range(5)] == [0.0, 0.0, 0.0, 1.0, 2.0]


def test_group_chats_are_paced_at_twenty_a_minute_and_pauses_hold_everything() -> None:
    limits = SendLimits(30, 1, 1, 20)
    gap = 3.0 / MARGIN  # 20 a minute, with the safety margin
    assert [limits.book_chat(-100, 0.0) for _ in range(3)] == pytest.approx([0.0, gap, 2 * gap])
    limits.pause(10.0)
    assert limits.book_chat(5, 0.0) == 10.0 and limits.book_global(0.0) == 10.0


def test_a_wait_reads_in_minutes_then_hours_and_minutes() -> None:
    from bot.common.render import wait_words

    assert [wait_words(m, "en") for m in (0, 45, 60, 90, 610, 1500)] == [
        "0 min",
        "45 min",
        "1 h",
        "1 h 30 min",
        "10 h 10 min",
        "25 h",
    ]
    assert wait_words(90, "ru") == "1 ч 30 мин"


@pytest.mark.parametrize("locale", ["ru", "en"])
def test_a_landing_page_lead_with_every_field_and_utm_tags_makes_a_card_of_at_most_15_lines(
    locale: str,
) -> None:
    """The campaign tags are one short line of values (they made a 19-line card)."""
    lead = _lead(
        source="landing",
        email="ivan@example.com",
        service="kitchen",
        is_repeat=True,
        possible_duplicate_of_id=3,
        utm={
            "utm_content": "banner1",
            "utm_source": "google",
            "utm_medium": "cpc",
            "utm_campaign": "spring_sale_2026_moscow_region",
            "utm_term": "kitchen renovation",
            "gclid": "x" * 80,
        },
    )
    text = card_view(lead, None, Reader(None, None, locale), NOW, requests=3).text
    lines = text.splitlines()
    assert len(lines) <= 15, text
    tags = [line for line in lines if line.startswith("🏷 ")]
    assert tags == ["🏷 google / cpc / spring_sale_2026_moscow_region / kitchen ren…"]


def test_a_429_while_many_chats_are_served_slows_the_bot_and_holds_everyone() -> None:
    limits = SendLimits(30, 1, 3, 20)
    for n in range(20):  # twenty chats served in the last second
        limits.accepted(n, 0.5 + n * 0.02)
    limits.throttled(7, 1.0, 2)
    assert limits.book_chat(99, 1.0) >= 3.0 and limits.book_global(3.0) >= 3.0
    gaps = [limits.book_global(3.0) for _ in range(3)]
    # what Telegram took in that second (20, aimed at 90 %), under 70 % of 27; no burst
    assert gaps[1] - gaps[0] == pytest.approx(1 / (20 * MARGIN))


def test_a_storms_first_429_drops_the_pace_to_what_telegram_took_but_not_below_a_third() -> None:
    storm = SendLimits(30, 1, 3, 20)
    for n in range(9):  # Telegram took 9 in the second before its 429
        storm.accepted(n, 0.5 + n * 0.01)
    storm.throttled(1, 1.0, 1)
    assert storm._global.pace.rate == pytest.approx(9 * MARGIN)
    stray = SendLimits(30, 1, 3, 20)
    stray.throttled(None, 1.0, 1)  # a 429 in a quiet second: a third of the pace is kept
    assert stray._global.pace.rate == pytest.approx(30 * MARGIN * 0.3)


def test_a_429_on_a_chat_taking_a_burst_in_a_quiet_moment_slows_only_that_chat() -> None:
    limits = SendLimits(30, 1, 3, 20)
    limits.accepted(5, 0.8)
    limits.accepted(5, 0.9)
    limits.throttled(5, 1.0, 1)
    assert limits.book_chat(5, 1.0) >= 2.0  # this chat waits Telegram's retry_after
    assert limits.book_chat(6, 1.0) == 1.0 and limits.book_global(1.0) == 1.0  # others go on


def test_429s_to_two_chats_within_a_second_slow_the_whole_bot() -> None:
    """Each chat took two messages in the last second, which alone would blame the chat; a
    second chat refused within the same second says it is the bot-wide limit (Telegram
    allows the bot less than configured), so everyone waits and the bot goes slower."""
    limits = SendLimits(30, 1000, 1000, 20)
    for n, chat in enumerate((5, 6, 5, 6)):
        limits.accepted(chat, 0.5 + n * 0.1)
    limits.throttled(5, 1.0, 1)
    assert limits.book_chat(7, 1.0) == 1.0  # the first 429: only chat 5 waits
    limits.throttled(6, 1.2, 1)
    assert limits.book_chat(7, 1.2) >= 2.2  # the second, to another chat: everyone waits
    assert limits._global.pace.rate < 30 * MARGIN


def test_a_slowed_pace_climbs_back_to_its_ceiling_while_telegram_accepts() -> None:
    limits = SendLimits(30, 1, 3, 20)
    limits.throttled(None, 0.0, 1)
    slowed = limits._global.pace.rate
    for second in range(2, 200):
        limits.accepted(None, float(second))
    assert slowed < limits._global.pace.rate == pytest.approx(30 * MARGIN)


def test_the_reports_secret_may_not_be_the_public_intake_token(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A web form's page shows the intake token: the same string as API_TOKEN would let anyone
    read the reports, so leadbot refuses to start and says which two differ."""
    monkeypatch.setenv("INTAKE_TOKEN", "same-secret")
    monkeypatch.setenv("API_TOKEN", "same-secret")
    with pytest.raises(ValueError, match="API_TOKEN must differ from INTAKE_TOKEN"):
        Settings(_env_file=None)  # type: ignore[call-arg]
    monkeypatch.setenv("API_TOKEN", "another-secret")
    assert Settings(_env_file=None).api_token is not None  # type: ignore[call-arg]
