"""Telephony over HTTP: POST /api/v1/calls (call events, INTAKE_TOKEN like /api/v1/leads) and
the PBX webhooks /hooks/zadarma and /hooks/mango/events/{call,summary}; the recordings' notices
(Zadarma's NOTIFY_RECORD, Mango's events/recording and events/record/added).

Refusals have the intake's shape ({"error", "field"}); nothing answers 500. A PBX hook whose
secret is not configured answers 503 (as /api/v1/leads does without INTAKE_TOKEN): the
operator sees "not set up" rather than a signature error that would send them hunting for a
wrong key.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from bot.common.clock import Clock
from bot.config import AppConfig, Settings
from bot.telephony.calls import CallError, CallEvent, CallResult, parse_call_event, record_calls
from bot.telephony.pbx import (
    ZADARMA_RECORD,
    mango_json,
    mango_sign_ok,
    mango_summary_event,
    zadarma_event,
    zadarma_signature_ok,
)
from bot.telephony.recordings import (
    RecordingError,
    RecordingNotice,
    mango_recording,
    record_recording,
    zadarma_recording,
)
from handlers.web.body import (
    MULTIPART,
    error_response,
    read_body,
    read_fields,
    refuse_unauthorised,
    validated,
)
from handlers.web.openapi import (
    FORM,
    INTAKE_AUTH,
    TEXT,
    Answer,
    Header,
    Operation,
    documented,
    refused,
)
from handlers.web.schemas.calls import (
    MAX_EVENTS,
    CallAnswers,
    CallEventRequest,
    CallEventsRequest,
    HookAnswer,
    MangoEventPath,
    MangoNotification,
    ZadarmaNotification,
)
from storage.db import SessionFactory

log = logging.getLogger("leadbot.calls")

FORM_TYPES = ("application/x-www-form-urlencoded", MULTIPART)


@dataclass(frozen=True)
class CallSettings:
    token: str | None
    zadarma_secret: str | None
    mango_key: str | None
    mango_salt: str | None
    max_body_bytes: int
    config: AppConfig
    leads_chat_id: int | None
    sessions: SessionFactory
    clock: Clock


CALL_SETTINGS = web.AppKey("call_settings", CallSettings)


async def _record(
    request: web.Request, provider: str, events: Sequence[CallEvent]
) -> list[CallResult] | web.Response:
    settings = request.app[CALL_SETTINGS]
    try:
        async with settings.sessions() as session:
            return await record_calls(
                session, events, settings.clock.now(), settings.config, settings.leads_chat_id
            )
    except Exception:
        log.exception("calls could not be stored provider=%s", provider)
        return error_response(503, "the call could not be stored; try again")


async def _record_hook(
    request: web.Request, provider: str, read_event: Callable[[], CallEvent | None]
) -> web.Response:
    """A PBX notification's answer: 422 unreadable, `recorded: false` for one that is not a
    call's end, else what storing the call did."""
    try:
        event = read_event()
    except CallError as exc:
        return _refused(provider, exc)
    except Exception:  # e.g. a time past year 9999: the payload's fault, never a 500
        log.exception("provider=%s call event could not be read", provider)
        return error_response(422, "the payload could not be read")
    if event is None:
        return web.json_response({"ok": True, "recorded": False})
    results = await _record(request, provider, [event])
    if isinstance(results, web.Response):
        return results
    return web.json_response({"ok": True, **results[0].as_json()})


def _refused(provider: str, exc: CallError, **more: Any) -> web.Response:
    # field names only in the log: the values are people's phone numbers
    log.warning("provider=%s call event refused field=%s: %s", provider, exc.field, exc)
    return error_response(422, str(exc), exc.field, **more)


@documented(
    Operation(
        summary="Call events from the office phone system",
        description="A call event, or a list of up to 100 (checked whole first: one bad event "
        "refuses the list, its `index` in the answer). A (call_id, status) pair is recorded "
        "once.",
        tag="calls",
        body=CallEventsRequest,
        security=INTAKE_AUTH,
        answers=(
            Answer(201, "recorded (a list: at least one new)", CallAnswers),
            Answer(200, "every event came before: nothing changed", CallAnswers),
            *refused(400, 401, (413, "over 64 kB, or more than 100 events"), 415, 422, 503),
        ),
    )
)
async def post_calls(request: web.Request) -> web.Response:
    """One call event (a JSON object) or several (a JSON list); all are checked first."""
    settings = request.app[CALL_SETTINGS]
    refused = refuse_unauthorised(request, settings.token)
    if refused is not None:
        return refused
    body = await read_body(request, settings.max_body_bytes, ("application/json",))
    if isinstance(body, web.Response):
        return body
    single = isinstance(body, dict)
    items = [body] if single else body
    if not isinstance(items, list) or not items:
        return error_response(400, "send a call event object or a non-empty list of them")
    if len(items) > MAX_EVENTS:
        return error_response(413, f"at most {MAX_EVENTS} call events per request")
    events = []
    region = settings.config.phone_region
    for index, item in enumerate(items):
        where = {} if single else {"index": index}
        if not isinstance(item, dict):
            return error_response(422, "each call event must be a JSON object", None, **where)
        if isinstance(typed := validated(CallEventRequest, item, **where), web.Response):
            return typed
        try:
            events.append(parse_call_event(item, region))
        except CallError as exc:
            return _refused("api", exc, **({} if single else {"index": index}))
        except Exception:  # the payload's fault, never a 500
            log.exception("call event could not be read index=%s", index)
            return error_response(422, "the call event could not be read", index=index)
    results = await _record(request, "api", events)
    if isinstance(results, web.Response):
        return results
    answers = [result.as_json() for result in results]
    created = any(not result.duplicate for result in results)
    return web.json_response(answers[0] if single else answers, status=201 if created else 200)


ZADARMA_SIGNATURE = Header(
    "Signature",
    "base64 of the hex HMAC-SHA1 of the call's numbers and call_start (NOTIFY_RECORD: "
    "pbx_call_id and call_id_with_rec), with the Secret key",
)
HOOK_REFUSALS = refused(
    400,
    (403, "a wrong signature or key"),
    413,
    415,
    (422, "a payload that cannot be read"),
    (503, "its secret not set, or no database"),
)


@documented(
    Operation(
        summary="Zadarma's URL check (zd_echo)",
        tag="calls",
        query=ZadarmaNotification,
        answers=(
            Answer(200, "zd_echo, echoed", media=TEXT),
            *refused((405, "no zd_echo: notifications are POSTed")),
        ),
    ),
    method="GET",
)
@documented(
    Operation(
        summary="Zadarma's PBX call notifications",
        description="The end of a call (NOTIFY_END, NOTIFY_OUT_END) and a call's recording "
        "(NOTIFY_RECORD) are recorded; other notifications are acknowledged.",
        tag="calls",
        body=ZadarmaNotification,
        body_media=(FORM, MULTIPART),
        headers=(ZADARMA_SIGNATURE,),
        answers=(
            Answer(200, "recorded or acknowledged", HookAnswer),
            Answer(200, "zd_echo, echoed", media=TEXT),
            *HOOK_REFUSALS,
        ),
    ),
    method="POST",
)
async def zadarma_hook(request: web.Request) -> web.StreamResponse:
    """Zadarma's notifications: `zd_echo` echoed (URL check); the END ones recorded."""
    echo = request.query.get("zd_echo")
    if echo is not None:
        return web.Response(text=echo[:64])
    settings = request.app[CALL_SETTINGS]
    if request.method != "POST":
        return error_response(405, "POST the notifications")
    if settings.zadarma_secret is None:
        return error_response(503, "Zadarma is off: ZADARMA_API_SECRET is not set")
    fields = await read_fields(request, settings.max_body_bytes, FORM_TYPES)
    if isinstance(fields, web.Response):
        return fields
    if isinstance(typed := validated(ZadarmaNotification, fields), web.Response):
        return typed
    if "zd_echo" in fields:  # the check may come as a POST too
        return web.Response(text=str(fields["zd_echo"])[:64])
    if not zadarma_signature_ok(fields, request.headers.get("Signature"), settings.zadarma_secret):
        log.warning("zadarma: bad or missing signature event=%s", fields.get("event", "")[:32])
        return error_response(403, "bad or missing Signature")
    if fields.get("event") == ZADARMA_RECORD:  # a recording is ready (issue 17)
        return await _record_recording(request, "zadarma", lambda: zadarma_recording(fields))
    config = settings.config
    return await _record_hook(
        request, "zadarma", lambda: zadarma_event(fields, config.phone_region, config.zone)
    )


async def _mango_form(request: web.Request) -> dict[str, Any] | web.Response:
    settings = request.app[CALL_SETTINGS]
    if settings.mango_key is None or settings.mango_salt is None:
        return error_response(503, "Mango Office is off: MANGO_API_KEY / MANGO_API_SALT not set")
    fields = await read_fields(request, settings.max_body_bytes, FORM_TYPES)
    if isinstance(fields, web.Response):
        return fields
    if isinstance(typed := validated(MangoNotification, fields), web.Response):
        return typed
    if not mango_sign_ok(fields, settings.mango_key, settings.mango_salt):
        log.warning("mango: wrong key or sign")
        return error_response(403, "wrong vpbx_api_key or sign")
    return fields


def _mango(summary: str, path: type[MangoEventPath] | None = None) -> Operation:
    return Operation(
        summary=summary,
        tag="calls",
        path=path,
        body=MangoNotification,
        body_media=(FORM, MULTIPART),
        answers=(Answer(200, "recorded or acknowledged", HookAnswer), *HOOK_REFUSALS),
    )


@documented(_mango("Mango Office: a call's state changed (acknowledged)"))
async def mango_call(request: web.Request) -> web.Response:
    """A call's state changed (ringing, talking...): acknowledged; the summary has the outcome."""
    fields = await _mango_form(request)
    return fields if isinstance(fields, web.Response) else web.json_response({"ok": True})


@documented(_mango("Mango Office: a call's summary (recorded)"))
async def mango_summary(request: web.Request) -> web.Response:
    fields = await _mango_form(request)
    if isinstance(fields, web.Response):
        return fields
    region = request.app[CALL_SETTINGS].config.phone_region
    return await _record_hook(
        request, "mango", lambda: mango_summary_event(mango_json(fields), region)
    )


# --- call recordings (issue 17): bot/telephony/recordings.py ------------------------------


async def _record_recording(
    request: web.Request, provider: str, read: Callable[[], RecordingNotice | None]
) -> web.Response:
    """A recording notice: kept once, tied to its call's lead when the call is known (else
    kept until the call's event links it); `recorded: false` for one only acknowledged."""
    try:
        notice = read()
    except RecordingError as exc:
        log.warning("provider=%s recording refused field=%s: %s", provider, exc.field, exc)
        return error_response(422, str(exc), exc.field)
    if notice is None:
        return web.json_response({"ok": True, "recorded": False})
    settings = request.app[CALL_SETTINGS]
    try:
        async with settings.sessions() as session:
            result = await record_recording(session, notice, settings.clock.now())
    except Exception:
        log.exception("recording could not be stored provider=%s", provider)
        return error_response(503, "the recording could not be stored; try again")
    return web.json_response({"ok": True, **result.as_json()})


@documented(_mango("Mango Office: a recording's state (Completed: recorded on the lead)"))
async def mango_recording_event(request: web.Request) -> web.Response:
    fields = await _mango_form(request)
    if isinstance(fields, web.Response):
        return fields
    return await _record_recording(request, "mango", lambda: _mango_notice(fields, True))


@documented(_mango("Mango Office: a recording put in the cloud (recorded on the lead)"))
async def mango_record_added(request: web.Request) -> web.Response:
    fields = await _mango_form(request)
    if isinstance(fields, web.Response):
        return fields
    return await _record_recording(request, "mango", lambda: _mango_notice(fields, False))


def _mango_notice(fields: dict[str, Any], stateful: bool) -> RecordingNotice | None:
    try:
        data = mango_json(fields)
    except CallError as exc:
        raise RecordingError(exc.field or "json", str(exc)) from None
    return mango_recording(data, stateful)


# --- end of call recordings -----------------------------------------------------------------


@documented(_mango("Mango Office: any other event (acknowledged once signed)", MangoEventPath))
async def mango_other(request: web.Request) -> web.Response:
    """Other Mango events (recordings, DTMF, SMS...): acknowledged once signed."""
    return await mango_call(request)


def add_call_routes(
    app: web.Application,
    settings: Settings,
    config: AppConfig,
    sessions: SessionFactory,
    clock: Clock,
    leads_chat_id: int | None,
) -> None:
    def secret(value: Any) -> str | None:
        return value.get_secret_value() if value is not None else None

    app[CALL_SETTINGS] = CallSettings(
        token=secret(settings.intake_token),
        zadarma_secret=secret(settings.zadarma_api_secret),
        mango_key=secret(settings.mango_api_key),
        mango_salt=secret(settings.mango_api_salt),
        max_body_bytes=config.intake.max_body_bytes,
        config=config,
        leads_chat_id=leads_chat_id,
        sessions=sessions,
        clock=clock,
    )
    app.router.add_post("/api/v1/calls", post_calls)
    app.router.add_route("GET", "/hooks/zadarma", zadarma_hook)
    app.router.add_route("POST", "/hooks/zadarma", zadarma_hook)
    app.router.add_post("/hooks/mango/events/call", mango_call)
    app.router.add_post("/hooks/mango/events/summary", mango_summary)
    app.router.add_post("/hooks/mango/events/recording", mango_recording_event)
    app.router.add_post("/hooks/mango/events/record/added", mango_record_added)
    app.router.add_post("/hooks/mango/events/{kind}", mango_other)
