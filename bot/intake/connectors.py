"""Form connectors: what site builders send, exactly as they send it, read into a LeadInput.

Each builder names its fields its own way; `[connectors]` in the configuration lists, per
builder, which field names (case-insensitive) mean the name, phone, e-mail, message and service.
Whatever else the form holds is kept in the lead's `extra`, with the payload itself under
`extra["raw"]` (cut to `[connectors] raw_max_bytes`). The HTTP side is handlers/web/connectors.py.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.config import FieldAliases
from bot.intake.input import MAX_DEPTH, IntakeError, LeadInput, parse_lead_input

SOURCES = {
    "tilda": "tilda",
    "cf7": "cf7",
    "elementor": "elementor",
    "vk": "vk",
    "bitrix": "bitrix24",
}
_TARGETS = ("name", "last_name", "phone", "email", "message", "service")
_IGNORED = frozenset({"token"})  # a builder may echo the URL's token into the body
_KEY = re.compile(r"\[([^\[\]]*)\]")


@dataclass(frozen=True)
class FormField:
    """One answer on a form: the names it may be known by (id, label), its value, and the
    lead field its type implies when no alias names it (Elementor's `email`, `tel`)."""

    names: tuple[str, ...]
    value: Any
    kind: str | None = None


def unflatten(flat: Mapping[str, Any]) -> dict[str, Any]:
    """PHP-style form keys (`fields[PHONE][0][VALUE]`) as nested dicts; other keys as they are.

    WordPress (Elementor) and Bitrix24 clients send nested arrays this way. A key nesting
    deeper than MAX_DEPTH is kept whole, as is a key that is not bracket syntax.
    """
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        head, bracket, rest = key.partition("[")
        parts = _KEY.findall(bracket + rest)
        if (
            not head
            or len(parts) >= MAX_DEPTH
            or bracket + rest != "".join(f"[{part}]" for part in parts)
        ):
            nested[key] = value  # not bracket syntax after all: keep the key whole
            continue
        node = nested
        path = [head, *parts]
        for part in path[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        node[path[-1]] = value
    return nested


def _scalar(value: Any) -> str | None:
    """A field's value as text: lists (checkboxes) joined; nested objects are not text."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str | int | float):
        text = str(value).strip()
        return text or None
    if isinstance(value, list) and all(isinstance(v, str | int | float) for v in value):
        text = ", ".join(str(v).strip() for v in value if str(v).strip())
        return text or None
    return None


def _raw(payload: Any, max_bytes: int) -> Any:
    text = json.dumps(payload, ensure_ascii=False, default=str)
    encoded = text.encode()
    if len(encoded) <= max_bytes:
        return payload
    return {"truncated": True, "text": encoded[:max_bytes].decode(errors="ignore")}


def build_lead(
    source: str,
    fields: Iterable[FormField],
    aliases: FieldAliases,
    phone_region: str,
    *,
    raw: Any,
    raw_max_bytes: int,
    external_id: str | None = None,
    context: Mapping[str, Any] | None = None,
) -> LeadInput:
    """Map a form's fields onto a lead: aliases first, then the field's own type; the rest
    (campaign tags aside) is kept as extra fields. Raises IntakeError naming what is missing."""
    lookup = {
        target: {alias.casefold().strip() for alias in getattr(aliases, target)}
        for target in _TARGETS
    }
    found: dict[str, str] = {}
    utm: dict[str, str] = {}
    extra: dict[str, Any] = {}
    seen: list[str] = []
    for item in fields:
        label = next((n for n in item.names if n), "")
        if not label or label.casefold() in _IGNORED:
            continue
        seen.append(label)
        text = _scalar(item.value)
        keys = {name.casefold().strip() for name in item.names if name}
        target = next((t for t in _TARGETS if t not in found and keys & lookup[t]), None)
        if target is None and item.kind in _TARGETS and item.kind not in found:
            target = item.kind
        if target is not None and text is not None:
            found[target] = text
        elif label.casefold().startswith("utm_") and text is not None:
            utm[label.casefold()] = text
        elif item.value not in (None, ""):
            extra[label] = item.value
    name = " ".join(part for part in (found.get("name"), found.pop("last_name", None)) if part)
    if name:
        found["name"] = name
    if not any(found.get(key) for key in ("name", "phone", "email", "message")):
        listed = ", ".join(seen[:20]) or "none"
        raise IntakeError(f"no phone, e-mail, name or message among the fields ({listed})", "phone")
    lead = parse_lead_input(
        {**found, **utm, "source": source, "external_id": external_id}, phone_region
    )
    return dataclasses.replace(
        lead, extra={**extra, **(context or {}), "raw": _raw(raw, raw_max_bytes)}
    )


# --- Tilda -------------------------------------------------------------------------------------
# Tilda ("Site settings → Forms → Webhook") POSTs application/x-www-form-urlencoded: the form's
# fields by their variable names (Name, Phone, Email, Comments, or the owner's own names), plus
# `tranid` (the submission's id) and `formid`; adding the webhook sends `test=test` first.
# (help on tilda.cc "Webhook"; as described at exceltic.dev/en/kommo-tilda-forma-v-sdelku/)


def is_tilda_probe(form: Mapping[str, Any]) -> bool:
    return form.get("test") == "test" and not form.get("tranid")


def tilda_lead(
    form: Mapping[str, Any], aliases: FieldAliases, phone_region: str, raw_max_bytes: int
) -> LeadInput:
    tranid = _scalar(form.get("tranid"))
    fields = [
        FormField((key,), value) for key, value in form.items() if key not in ("tranid", "formid")
    ]
    context = {"form_id": form["formid"]} if form.get("formid") else {}
    return build_lead(
        SOURCES["tilda"],
        fields,
        aliases,
        phone_region,
        raw=dict(form),
        raw_max_bytes=raw_max_bytes,
        external_id=tranid,
        context=context,
    )


# --- Contact Form 7 ----------------------------------------------------------------------------
# CF7 has no webhook of its own; the "CF7 to Webhook" plugin (mariovalney/cf7-to-zapier,
# modules/cf7/class-module-cf7.php) POSTs JSON keyed by the form-tag names: `your-name`,
# `your-email`, `your-phone`, `your-message`...; checkboxes and multi-selects are lists.


def cf7_lead(
    data: Mapping[str, Any], aliases: FieldAliases, phone_region: str, raw_max_bytes: int
) -> LeadInput:
    fields = [FormField((key,), value) for key, value in data.items()]
    return build_lead(
        SOURCES["cf7"], fields, aliases, phone_region, raw=dict(data), raw_max_bytes=raw_max_bytes
    )


# --- Elementor Pro -----------------------------------------------------------------------------
# Elementor Pro's "Webhook" action (modules/forms/actions/webhook.php) wp_remote_post()s a PHP
# array, i.e. application/x-www-form-urlencoded, and needs HTTP 200 exactly. Plain: each field's
# label => value, the meta rows (Date, Time, Page URL, User Agent, Remote IP) likewise, plus
# `form_id`, `form_name` (Form_Record::get_formatted_data(true)). "Advanced Data" on:
# `form[id]`, `form[name]`, `fields[<id>][id|type|title|value|raw_value|required]`,
# `meta[<key>][title|value]`.
_ELEMENTOR_KINDS = {"email": "email", "tel": "phone", "textarea": "message"}


def elementor_lead(
    form: Mapping[str, Any], aliases: FieldAliases, phone_region: str, raw_max_bytes: int
) -> LeadInput:
    nested = unflatten(form)
    if isinstance(nested.get("fields"), dict):
        return _elementor_advanced(nested, aliases, phone_region, raw_max_bytes)
    fields = [
        FormField((key,), value)
        for key, value in form.items()
        if key not in ("form_id", "form_name")
    ]
    context = {key: form[key] for key in ("form_id", "form_name") if form.get(key)}
    return build_lead(
        SOURCES["elementor"],
        fields,
        aliases,
        phone_region,
        raw=dict(form),
        raw_max_bytes=raw_max_bytes,
        context=context,
    )


def _elementor_advanced(
    nested: dict[str, Any], aliases: FieldAliases, phone_region: str, raw_max_bytes: int
) -> LeadInput:
    fields = []
    for key, field in nested["fields"].items():
        if not isinstance(field, dict):
            continue
        names = (str(field.get("id") or key), str(field.get("title") or ""))
        kind = _ELEMENTOR_KINDS.get(str(field.get("type", "")))
        fields.append(FormField(names, field.get("value"), kind))
    form = nested.get("form") if isinstance(nested.get("form"), dict) else {}
    context: dict[str, Any] = {f"form_{k}": v for k, v in form.items() if k in ("id", "name") and v}
    meta = nested.get("meta")
    if isinstance(meta, dict):
        for key, row in meta.items():
            value = row.get("value") if isinstance(row, dict) else row
            if value not in (None, ""):
                context[f"meta_{key}"] = value
    return build_lead(
        SOURCES["elementor"],
        fields,
        aliases,
        phone_region,
        raw=nested,
        raw_max_bytes=raw_max_bytes,
        context=context,
    )


# --- VK ----------------------------------------------------------------------------------------
# VK Callback API (dev.vk.com/api/callback/getting-started): JSON `{type, object, group_id,
# event_id, v, secret}`; `confirmation` wants the community's code back, every other event
# "ok". `lead_forms_new` (lead ads forms): object `{lead_id, group_id, user_id, form_id,
# form_name, ad_id, answers: [{key, question, answer}]}`, keys like first_name, last_name,
# phone_number, email, custom ones for the owner's questions (vk-io's LeadFormsLead; the
# lead_forms_new handler in kidsfab/robx-landing vk_form.php).


def vk_lead(
    event: Mapping[str, Any], aliases: FieldAliases, phone_region: str, raw_max_bytes: int
) -> LeadInput:
    lead = event.get("object")
    if not isinstance(lead, dict):
        raise IntakeError("lead_forms_new without an object", "object")
    answers = lead.get("answers")
    if not isinstance(answers, list):
        raise IntakeError("lead_forms_new without answers", "answers")
    fields = [
        FormField((str(a.get("key") or ""), str(a.get("question") or "")), a.get("answer"))
        for a in answers
        if isinstance(a, dict)
    ]
    lead_id = _scalar(lead.get("lead_id")) or _scalar(event.get("event_id"))
    context = {
        f"vk_{key}": lead[key]
        for key in ("form_id", "form_name", "group_id", "user_id", "ad_id")
        if lead.get(key)
    }
    raw = {key: value for key, value in event.items() if key != "secret"}
    return build_lead(
        SOURCES["vk"],
        fields,
        aliases,
        phone_region,
        raw=raw,
        raw_max_bytes=raw_max_bytes,
        external_id=lead_id,
        context=context,
    )


# --- Bitrix24 ----------------------------------------------------------------------------------
# Bitrix24's inbound webhook crm.lead.add (apidocs.bitrix24.com/api-reference/crm/leads/
# crm-lead-add): `fields` with TITLE, NAME, SECOND_NAME, LAST_NAME, COMMENTS, SOURCE_ID,
# SOURCE_DESCRIPTION, UTM_*, and the multi-fields PHONE / EMAIL as lists of {VALUE, VALUE_TYPE};
# as JSON, or form-encoded `fields[PHONE][0][VALUE]=...`. Bitrix answers `{"result": <id>}`.
_BITRIX_NAMED = {
    "TITLE": "title",
    "SOURCE_ID": "source_id",
    "SOURCE_DESCRIPTION": "source_description",
}


def _first_value(multi: Any) -> str | None:
    rows = list(multi.values()) if isinstance(multi, dict) else multi
    if not isinstance(rows, list):
        return _scalar(rows)
    for row in rows:
        value = _scalar(row.get("VALUE")) if isinstance(row, dict) else _scalar(row)
        if value:
            return value
    return None


def bitrix_lead(payload: Mapping[str, Any], phone_region: str, raw_max_bytes: int) -> LeadInput:
    fields = payload.get("fields")
    if not isinstance(fields, dict):
        raise IntakeError("no fields: send fields[NAME], fields[PHONE][0][VALUE]...", "fields")
    upper = {str(key).upper(): value for key, value in fields.items()}
    name = " ".join(
        text for key in ("NAME", "SECOND_NAME", "LAST_NAME") if (text := _scalar(upper.get(key)))
    )
    mapped = [
        FormField(("name",), name or None),
        FormField(("phone",), _first_value(upper.get("PHONE"))),
        FormField(("email",), _first_value(upper.get("EMAIL"))),
        FormField(("message",), upper.get("COMMENTS")),
    ]
    skip = {"NAME", "SECOND_NAME", "LAST_NAME", "PHONE", "EMAIL", "COMMENTS"}
    rest = [
        FormField((_BITRIX_NAMED.get(key) or key.lower(),), value)
        for key, value in upper.items()
        if key not in skip
    ]
    aliases = FieldAliases(name=["name"], phone=["phone"], email=["email"], message=["message"])
    return build_lead(
        SOURCES["bitrix"],
        [*mapped, *rest],
        aliases,
        phone_region,
        raw=dict(payload),
        raw_max_bytes=raw_max_bytes,
    )
