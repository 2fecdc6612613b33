"""Site builders' webhooks: /hooks/tilda, /hooks/cf7, /hooks/elementor, /hooks/vk and the
Bitrix24-shaped /rest/<user>/<INTAKE_TOKEN>/crm.lead.add.json.

Each reads what its builder sends (bot/intake/connectors.py) and stores it through the same
IntakeQueue as POST /api/v1/leads. Success is HTTP 200 (Elementor treats anything else as a
failure).
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.config import AppConfig, Connectors, Settings
from bot.intake.connectors import (
    bitrix_lead,
    cf7_lead,
    elementor_lead,
    is_tilda_probe,
    tilda_lead,
    unflatten,
    vk_lead,
)
from bot.intake.input import IntakeError, LeadInput
from handlers.web.body import INTAKE_TYPES, read_fields, same_secret, validated
from handlers.web.body import error_response as _error
from handlers.web.intake import INTAKE_QUEUE
from handlers.web.openapi import (
    FORM,
    HOOK_AUTH,
    JSON,
    MULTIPART,
    TEXT,
    Answer,
    Operation,
    documented,
    refused,
)
from handlers.web.schemas.connectors import (
    BitrixAnswer,
    BitrixLeadAdd,
    BitrixPath,
    BuilderForm,
    ConnectorAnswer,
    VkCallback,
)

log = logging.getLogger("leadbot.connectors")

VK_SEEN_EVENTS = 10_000  # event ids remembered to answer VK's retries without a second look


@dataclass(frozen=True)
class ConnectorSettings:
    token: str | None
    vk_secret: str | None
    vk_confirmation_code: str | None
    phone_region: str
    max_body_bytes: int
    connectors: Connectors


class SeenEvents:
    """The newest VK event ids handled, oldest forgotten first."""

    def __init__(self, capacity: int) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._capacity = capacity

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._ids

    def add(self, event_id: str) -> None:
        self._ids[event_id] = None
        self._ids.move_to_end(event_id)
        while len(self._ids) > self._capacity:
            self._ids.popitem(last=False)


CONNECTOR_SETTINGS = web.AppKey("connector_settings", ConnectorSettings)
VK_SEEN = web.AppKey("vk_seen_events", SeenEvents)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _parse(connector: str, parse: Callable[[], LeadInput], **more: Any) -> LeadInput | web.Response:
    """422 with what is missing, logged (field names only: the values are people's data)."""
    try:
        return parse()
    except IntakeError as exc:
        log.warning("connector=%s payload refused: %s", connector, exc)
        return _error(422, str(exc), exc.field, **more)
    except Exception:
        log.exception("connector=%s payload could not be read", connector)
        return _error(422, "the payload could not be read", **more)


async def _submit(request: web.Request, connector: str, item: LeadInput) -> Any:
    try:
        return await request.app[INTAKE_QUEUE].submit(item)
    except Exception:
        log.exception("connector=%s lead not stored", connector)
        return _error(503, "the lead could not be stored; try again")


def _token_refusal(request: web.Request, settings: ConnectorSettings) -> web.Response | None:
    if settings.token is None:
        return _error(503, "HTTP intake is off: INTAKE_TOKEN is not set")
    if not same_secret(request.query.get("token", ""), settings.token):
        log.warning("connector request with a missing or wrong token path=%s", request.path)
        return _error(403, "missing or wrong token")
    return None


FormParser = Callable[[Mapping[str, Any], ConnectorSettings], LeadInput]


def _form_hook(
    connector: str, builder: str, parse: FormParser, probe: Callable[[Any], bool] | None
) -> Handler:
    """A builder that authenticates by `?token=` and posts one submission per request."""
    probed = (Answer(200, "Tilda's test=test check", media=TEXT),) if probe is not None else ()

    @documented(
        Operation(
            summary=f"A {builder} form's submission",
            tag="site builders",
            body=BuilderForm,
            body_media=(FORM, MULTIPART, JSON),
            security=HOOK_AUTH,
            answers=(
                Answer(200, "stored (or joined a lead, or came again)", ConnectorAnswer),
                *probed,
                *refused(400, 403, 413, 415, 422, (503, "INTAKE_TOKEN unset, or no database")),
            ),
        )
    )
    async def handle(request: web.Request) -> web.StreamResponse:
        settings = request.app[CONNECTOR_SETTINGS]
        if (refusal := _token_refusal(request, settings)) is not None:
            return refusal
        body = await read_fields(request, settings.max_body_bytes, INTAKE_TYPES)
        if isinstance(body, web.Response):
            return body
        form = validated(BuilderForm, body)
        if isinstance(form, web.Response):
            return form
        if probe is not None and probe(form.root):
            return web.Response(text="ok")
        item = _parse(connector, lambda: parse(form.root, settings))
        if isinstance(item, web.Response):
            return item
        result = await _submit(request, connector, item)
        if isinstance(result, web.Response):
            return result
        return web.json_response(
            {
                "id": result.lead_id,
                "status": result.status.value,
                "duplicate_of": result.duplicate_of,
                "created": result.created,
            }
        )

    return handle


@documented(
    Operation(
        summary="VK Callback API: lead forms",
        tag="site builders",
        body=VkCallback,
        answers=(
            Answer(200, '"ok", or VK_CONFIRMATION_CODE for `confirmation`', media=TEXT),
            *refused(
                400,
                (403, "wrong secret, or VK_SECRET / VK_CONFIRMATION_CODE unset"),
                413,
                415,
                422,
                (503, "no database"),
            ),
        ),
    )
)
async def vk_callback(request: web.Request) -> web.StreamResponse:
    settings = request.app[CONNECTOR_SETTINGS]
    if settings.vk_secret is None or settings.vk_confirmation_code is None:
        return _error(403, "VK connector is off: VK_SECRET and VK_CONFIRMATION_CODE are not set")
    body = await read_fields(request, settings.max_body_bytes, ("application/json",))
    if isinstance(body, web.Response):
        return body
    if isinstance(event := validated(VkCallback, body), web.Response):
        return event
    secret = body.get("secret")
    if not isinstance(secret, str) or not same_secret(secret, settings.vk_secret):
        log.warning("VK callback with a missing or wrong secret group=%s", body.get("group_id"))
        return _error(403, "missing or wrong secret", "secret")
    kind = body.get("type")
    if kind == "confirmation":
        return web.Response(text=settings.vk_confirmation_code)
    seen = request.app[VK_SEEN]
    event_id = body.get("event_id")
    if kind != "lead_forms_new" or (isinstance(event_id, str) and event_id in seen):
        return web.Response(text="ok")
    aliases = settings.connectors.vk
    item = _parse(
        "vk",
        lambda: vk_lead(body, aliases, settings.phone_region, settings.connectors.raw_max_bytes),
    )
    if isinstance(item, web.Response):
        return item
    result = await _submit(request, "vk", item)
    if isinstance(result, web.Response):
        return result
    if isinstance(event_id, str):
        seen.add(event_id)
    return web.Response(text="ok")


@documented(
    Operation(
        summary="Bitrix24's crm.lead.add, for senders that post leads to a Bitrix24 webhook",
        description="The user id in the path is ignored; the token is INTAKE_TOKEN.",
        tag="site builders",
        path=BitrixPath,
        body=BitrixLeadAdd,
        body_media=(JSON, FORM, MULTIPART),
        answers=(
            Answer(200, "stored: the lead's id", BitrixAnswer),
            *refused(400, (403, "wrong token in the URL"), 413, 415, 422, 503),
        ),
    )
)
async def bitrix_lead_add(request: web.Request) -> web.StreamResponse:
    settings = request.app[CONNECTOR_SETTINGS]
    if settings.token is None:
        return _error(503, "HTTP intake is off: INTAKE_TOKEN is not set")
    if not same_secret(request.match_info["token"], settings.token):
        log.warning("Bitrix24-shaped request with a wrong token")
        return _error(
            403,
            "wrong token in the webhook URL",
            error_description="wrong token in the webhook URL",
        )
    body = await read_fields(request, settings.max_body_bytes, INTAKE_TYPES)
    if isinstance(body, web.Response):
        return body
    payload = body if request.content_type == "application/json" else unflatten(body)
    if isinstance(typed := validated(BitrixLeadAdd, payload), web.Response):
        return typed
    item = _parse(
        "bitrix24",
        lambda: bitrix_lead(payload, settings.phone_region, settings.connectors.raw_max_bytes),
    )
    if isinstance(item, web.Response):
        return item
    result = await _submit(request, "bitrix24", item)
    if isinstance(result, web.Response):
        return result
    return web.json_response({"result": result.lead_id})


def _tilda(body: Mapping[str, Any], s: ConnectorSettings) -> LeadInput:
    return tilda_lead(body, s.connectors.tilda, s.phone_region, s.connectors.raw_max_bytes)


def _cf7(body: Mapping[str, Any], s: ConnectorSettings) -> LeadInput:
    return cf7_lead(body, s.connectors.cf7, s.phone_region, s.connectors.raw_max_bytes)


def _elementor(body: Mapping[str, Any], s: ConnectorSettings) -> LeadInput:
    return elementor_lead(body, s.connectors.elementor, s.phone_region, s.connectors.raw_max_bytes)


def add_connector_routes(app: web.Application, settings: Settings, config: AppConfig) -> None:
    """The builders' webhooks; needs add_intake_routes first (its IntakeQueue)."""
    app[CONNECTOR_SETTINGS] = ConnectorSettings(
        token=settings.intake_token.get_secret_value() if settings.intake_token else None,
        vk_secret=settings.vk_secret.get_secret_value() if settings.vk_secret else None,
        vk_confirmation_code=settings.vk_confirmation_code,
        phone_region=config.phone_region,
        max_body_bytes=config.intake.max_body_bytes,
        connectors=config.connectors,
    )
    app[VK_SEEN] = SeenEvents(VK_SEEN_EVENTS)
    app.router.add_post("/hooks/tilda", _form_hook("tilda", "Tilda", _tilda, is_tilda_probe))
    app.router.add_post("/hooks/cf7", _form_hook("cf7", "Contact Form 7", _cf7, None))
    app.router.add_post(
        "/hooks/elementor", _form_hook("elementor", "Elementor Pro", _elementor, None)
    )
    app.router.add_post("/hooks/vk", vk_callback)
    app.router.add_post("/rest/{user_id}/{token}/crm.lead.add.json", bitrix_lead_add)
