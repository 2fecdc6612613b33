"""The sandbox page's HTML: one template, its words from templates/<language>/sandbox.toml."""

from __future__ import annotations

import tomllib
from functools import cache
from typing import Any

import jinja2

from bot.common.render import LOCALES, TEMPLATES_DIR, labels


@cache
def page_strings(language: str) -> dict[str, Any]:
    code = language if language in LOCALES else "en"
    strings = tomllib.loads((TEMPLATES_DIR / code / "sandbox.toml").read_text("utf-8"))
    strings["roles"] = {**labels(code)["roles"], "client": strings["client"]}
    return strings


@cache
def _template() -> jinja2.Template:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("sandbox/page.html.j2")


def page_html(language: str) -> str:
    code = language if language in LOCALES else "en"
    return _template().render(lang=code, s=page_strings(code))
