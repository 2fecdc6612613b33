"""All text through one Jinja environment: HTML templates escape every value they print.

`*.html.j2` templates produce Telegram HTML (autoescaped); `*.txt.j2` produce plain text
(alerts, which Telegram shows verbatim). Short labels (buttons, statuses) live in
`templates/<locale>/labels.toml`.
"""

from __future__ import annotations

import html
import re
import tomllib
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

import templates
from bot.common.contacts import display_phone
from bot.config import AppConfig

TEMPLATES_DIR = Path(templates.__file__).resolve().parent
LOCALES = ("ru", "en")
TELEGRAM_TEXT_LIMIT = 4096
ALERT_LIMIT = 200
ELLIPSIS = "…"
_TAG = re.compile(r"<[^>]*>")


def utf16_length(text: str) -> int:
    """Telegram counts message length in UTF-16 code units: an emoji counts as two."""
    return len(text.encode("utf-16-le")) // 2


def cut(value: Any, limit: int) -> str:
    """Shorten to at most `limit` UTF-16 units, ending in an ellipsis when cut."""
    text = "" if value is None else str(value)
    if utf16_length(text) <= limit:
        return text
    kept: list[str] = []
    used = 0
    for char in text:
        size = 2 if ord(char) > 0xFFFF else 1
        if used + size > limit - 1:
            break
        kept.append(char)
        used += size
    return "".join(kept) + ELLIPSIS


def visible_length(telegram_html: str) -> int:
    """Length of a message as Telegram measures it: after tags and entities are parsed."""
    return utf16_length(html.unescape(_TAG.sub("", telegram_html)))


def since(moment: datetime, now: datetime, locale: str) -> str:
    """'5 min ago' in the reader's language, coarse on purpose: a card is read, not audited."""
    seconds = max(0, int((now - moment).total_seconds()))
    units = labels(locale)["ago"]
    if seconds < 60:
        return units["now"]
    for size, key in ((86400, "days"), (3600, "hours"), (60, "minutes")):
        if seconds >= size:
            return units[key].format(n=seconds // size)
    return units["now"]


def local_day(moment: datetime, zone: Any, locale: str | None = None) -> str:
    """A local date in the reader's format: "04.01" in Russian, "4 Jan" in English."""
    local = moment.astimezone(zone)
    if _locale(locale) == "en":
        return f"{local.day} {labels('en')['when']['months'].split()[local.month - 1]}"
    return local.strftime("%d.%m")


def local_time(moment: datetime, zone: Any, locale: str | None = None) -> str:
    """A local date and time in the reader's format: "04.01 14:05" / "4 Jan 14:05" (the one
    helper every date a person reads goes through)."""
    return f"{local_day(moment, zone, locale)} {moment.astimezone(zone):%H:%M}"


def short_time(
    moment: datetime, now: datetime, config: AppConfig, locale: str | None = None
) -> str:
    """ "14:02" today, "04.01 14:02" / "4 Jan 14:02" another day (local time)."""
    local = moment.astimezone(config.zone)
    if local.date() == now.astimezone(config.zone).date():
        return local.strftime("%H:%M")
    return local_time(moment, config.zone, locale)


def arrival_time(moment: datetime, now: datetime, zone: Any, locale: str | None = None) -> str:
    """When a lead arrived, as a card shows it: "today 14:05", else "04.01 14:05" (a card is
    edited rarely, so an age such as "5 min ago" would go stale on the screen)."""
    local = moment.astimezone(zone)
    if local.date() == now.astimezone(zone).date():
        return labels(_locale(locale))["when"]["today"].format(time=f"{local:%H:%M}")
    return local_time(moment, zone, locale)


def wait_words(minutes: int, locale: str) -> str:
    """A wait in the reader's words: "45 min", "2 h", "1 h 30 min" (minutes dropped past a day)."""
    units = labels(locale)["wait"]
    hours, rest = divmod(max(0, int(minutes)), 60)
    if not hours:
        return units["minutes"].format(n=rest)
    if not rest or hours >= 24:
        return units["hours"].format(h=hours)
    return units["hours_minutes"].format(h=hours, m=rest)


@jinja2.pass_context
def _wait_filter(context: Any, minutes: int) -> str:
    return wait_words(minutes, context.get("locale", "ru"))


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html.j2",), default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
    )
    env.filters["cut"] = cut
    env.filters["phone"] = display_phone
    env.filters["wait"] = _wait_filter
    return env


_ENV = _environment()


@cache
def labels(locale: str) -> dict[str, Any]:
    return tomllib.loads((TEMPLATES_DIR / _locale(locale) / "labels.toml").read_text("utf-8"))


def _locale(locale: str | None) -> str:
    return locale if locale in LOCALES else "ru"


def render(name: str, locale: str | None, **context: Any) -> str:
    """Render `templates/<locale>/<name>`; the locale falls back to Russian."""
    code = _locale(locale)
    template = _ENV.get_template(f"{code}/{name}")
    return template.render(labels=labels(code), locale=code, **context).strip()


def render_alert(name: str, locale: str | None, **context: Any) -> str:
    """A pop-up text for answerCallbackQuery: plain text, at most 200 characters."""
    return cut(render(f"{name}.txt.j2", locale, **context), ALERT_LIMIT)
