"""Stand-ins for the systems leadbot delivers to: a webhook receiver that checks every signature
(the README's recipe) and fails or goes away on demand, and a Bitrix24 portal that takes only
the methods and fields Bitrix24's REST documents, answering as it documents."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web

from bot.adapters.webhooks.sender import WebhookSender
from bot.common.clock import ManualClock
from bot.common.deliveries import next_delivery_at
from storage.db import SessionFactory
from storage.models import HookDelivery, OutboxState
from tests.harness import none_pending

SECRET = "whsec-test-0123456789abcdef"
TOLERANCE = 300  # seconds a signature's timestamp may be off


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def verified(secret: bytes, body: bytes, headers: Any, now: float) -> bool:
    """The README's check, word for word but for `now` (a receiver uses time.time())."""
    timestamp = headers.get("X-Leadbot-Timestamp", "")
    sent = headers.get("X-Leadbot-Signature", "")
    if not timestamp.isdigit() or abs(now - int(timestamp)) > TOLERANCE:
        return False  # too old, or from the future: a replay
    mac = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256)
    return hmac.compare_digest("sha256=" + mac.hexdigest(), sent)


@dataclass
class Request:
    """One request the receiver saw, and what it answered."""

    status: int
    at: datetime  # by the test's clock
    idempotency_key: str
    event: str
    signed: bool
    payload: dict[str, Any]


async def serve(path: str, handler: web.Handler, port: int) -> web.AppRunner:
    """One POST route on 127.0.0.1:`port`, serving until `stop_serving`."""
    app = web.Application()
    app.router.add_post(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner


async def stop_serving(runner: web.AppRunner | None) -> None:
    if runner is not None:
        await runner.cleanup()


@dataclass
class Receiver:
    """A webhook receiver on 127.0.0.1. `fails(n)` says whether the n-th request (from 1) is
    answered 503; `stop()` / `start()` take it away and bring it back on the same port."""

    clock: ManualClock
    fails: Callable[[int], bool] = lambda n: False
    latency: float = 0.0  # seconds each answer takes (two senders' requests overlap)
    secret: str = SECRET
    port: int = field(default_factory=free_port)
    requests: list[Request] = field(default_factory=list)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/leadbot"

    @property
    def accepted(self) -> list[Request]:
        return [r for r in self.requests if r.status == 200]

    async def start(self) -> None:
        self._runner = await serve("/hooks/leadbot", self._take, self.port)

    async def stop(self) -> None:
        await stop_serving(self._runner)
        self._runner = None

    async def _take(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.latency:
            await asyncio.sleep(self.latency)
        now = self.clock.now()
        signed = verified(self.secret.encode(), body, request.headers, now.timestamp())
        status = 503 if self.fails(len(self.requests) + 1) else 200
        if not signed:
            status = 401
        self.requests.append(
            Request(
                status,
                now,
                request.headers.get("Idempotency-Key", ""),
                request.headers.get("X-Leadbot-Event", ""),
                signed,
                json.loads(body),
            )
        )
        return web.Response(status=status, text="ok" if status == 200 else "try later")


async def drain(
    sender: WebhookSender, sessions: SessionFactory, clock: ManualClock, rounds: int = 2000
) -> int:
    """Deliver until nothing is pending, moving the clock to each next retry instead of waiting
    for it; how many rounds it took."""
    for done in range(rounds):
        if await sender.deliver_due():
            continue
        async with sessions() as session:
            due = await next_delivery_at(session, sender.targets)
            pending = await session.scalar(
                HookDelivery.__table__.select()
                .with_only_columns(HookDelivery.id)
                .where(HookDelivery.state == OutboxState.PENDING)
                .limit(1)
            )
        if pending is None:
            return done
        assert due is not None, "rows pending, none due and none claimable"
        clock.set(max(clock.now(), due))
    raise AssertionError(f"still pending after {rounds} rounds")


async def webhooks_delivered(sessions: SessionFactory, within: float = 20.0) -> None:
    """Return once no delivery row is pending (as harness.outbox_sent does for the outbox)."""
    await none_pending(sessions, HookDelivery, "webhook", within)


# What Bitrix24's REST documents for the two record types (apidocs.bitrix24.com,
# crm.contact.add and crm.deal.add, "Parameter fields"); custom UF_* fields aside.
CONTACT_FIELDS = {
    "HONORIFIC", "NAME", "SECOND_NAME", "LAST_NAME", "PHOTO", "BIRTHDATE", "TYPE_ID",
    "SOURCE_ID", "SOURCE_DESCRIPTION", "POST", "COMMENTS", "OPENED", "EXPORT",
    "ASSIGNED_BY_ID", "COMPANY_ID", "COMPANY_IDS", "UTM_SOURCE", "UTM_MEDIUM", "UTM_CAMPAIGN",
    "UTM_CONTENT", "UTM_TERM", "TRACE", "PHONE", "EMAIL", "WEB", "IM", "LINK",
    "ORIGINATOR_ID", "ORIGIN_ID", "ORIGIN_VERSION",
}  # fmt: skip
DEAL_FIELDS = {
    "TITLE", "TYPE_ID", "CATEGORY_ID", "STAGE_ID", "IS_RECURRING", "IS_RETURN_CUSTOMER",
    "IS_REPEATED_APPROACH", "PROBABILITY", "CURRENCY_ID", "OPPORTUNITY",
    "IS_MANUAL_OPPORTUNITY", "TAX_VALUE", "COMPANY_ID", "CONTACT_ID", "CONTACT_IDS",
    "BEGINDATE", "CLOSEDATE", "OPENED", "CLOSED", "COMMENTS", "ASSIGNED_BY_ID", "SOURCE_ID",
    "SOURCE_DESCRIPTION", "ADDITIONAL_INFO", "LOCATION_ID", "ORIGINATOR_ID", "ORIGIN_ID",
    "UTM_SOURCE", "UTM_MEDIUM", "UTM_CAMPAIGN", "UTM_CONTENT", "UTM_TERM", "TRACE",
}  # fmt: skip
# crm_multifield VALUE_TYPE (the CRM data types page)
PHONE_TYPES = {"WORK", "MOBILE", "FAX", "HOME", "PAGER", "MAILING", "OTHER"}
EMAIL_TYPES = {"WORK", "HOME", "MAILING", "OTHER"}
CURRENCIES = {"RUB", "USD", "EUR"}  # what crm.currency.list has on this portal
USER_ID, KEY = 1, "k3y4test0leadbot"


class RefusedByStand(Exception):
    """The request breaks what the documentation says: answered 400 and recorded in
    `broken` (a test asserts it stays empty)."""


class PortalRefuses(Exception):
    """A well-formed request the portal will not take (an unknown currency): answered 400."""


@dataclass
class Bitrix24Stand:
    """A portal's inbound webhook, `/rest/<user>/<key>/<method>`: crm.contact.add/list and
    crm.deal.add/list. `faults[method]` is a list of what the next calls of it do instead of
    answering: "500" (INTERNAL_SERVER_ERROR), "lost" (does the work, then drops the
    connection: the answer is lost)."""

    port: int = field(default_factory=free_port)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    contacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    deals: dict[int, dict[str, Any]] = field(default_factory=dict)
    faults: dict[str, list[str]] = field(default_factory=dict)
    broken: list[str] = field(default_factory=list)  # what broke the documented shapes
    _next_id: int = 45
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/rest/{USER_ID}/{KEY}/"

    def methods(self) -> list[str]:
        return [method for method, _ in self.calls]

    async def start(self) -> None:
        self._runner = await serve("/rest/{user}/{key}/{method}", self._call, self.port)

    async def stop(self) -> None:
        await stop_serving(self._runner)
        self._runner = None

    async def _call(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["user"] != str(USER_ID) or request.match_info["key"] != KEY:
            return _error(401, "INVALID_CREDENTIALS", "Invalid request credentials")
        method = request.match_info["method"]
        params = await request.json()
        self.calls.append((method, params))
        handler = {
            "crm.contact.add": self._contact_add,
            "crm.deal.add": self._deal_add,
            "crm.contact.list": lambda p: self._list(self.contacts, p),
            "crm.deal.list": lambda p: self._list(self.deals, p),
        }.get(method)
        if handler is None:
            return _error(404, "ERROR_METHOD_NOT_FOUND", "Method not found!")
        fault = (self.faults.get(method) or [None]).pop(0) if self.faults.get(method) else None
        if fault == "500":
            return _error(500, "INTERNAL_SERVER_ERROR", "Internal server error")
        try:
            result = handler(params)
        except RefusedByStand as exc:
            self.broken.append(f"{method}: {exc}")
            return _error(400, "", str(exc))
        except PortalRefuses as exc:
            return _error(400, "", str(exc))
        if fault == "lost":
            assert request.transport is not None
            request.transport.close()  # done, but the answer never arrives
            return web.Response(status=200)
        body: dict[str, Any] = {"result": result, "time": {"start": 1723713732.2}}
        if isinstance(result, list):
            body["total"] = len(result)
        return web.json_response(body)

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _contact_add(self, params: dict[str, Any]) -> int:
        fields = _fields(params, CONTACT_FIELDS)
        if not (fields.get("NAME") or fields.get("LAST_NAME")):
            raise RefusedByStand("NAME or LAST_NAME must be filled in")
        _multifield(fields, "PHONE", PHONE_TYPES)
        _multifield(fields, "EMAIL", EMAIL_TYPES)
        contact_id = self._new_id()
        self.contacts[contact_id] = fields
        return contact_id

    def _deal_add(self, params: dict[str, Any]) -> int:
        fields = _fields(params, DEAL_FIELDS)
        if fields.get("CURRENCY_ID") is not None and fields["CURRENCY_ID"] not in CURRENCIES:
            raise PortalRefuses('Invalid value for the "Currency" field')
        ids = fields.get("CONTACT_IDS", [])
        if not isinstance(ids, list) or any(i not in self.contacts for i in ids):
            raise RefusedByStand(f"CONTACT_IDS must list existing contacts, not {ids!r}")
        if "OPPORTUNITY" in fields:
            float(fields["OPPORTUNITY"])  # a double (a decimal string is read as one)
        deal_id = self._new_id()
        self.deals[deal_id] = fields
        return deal_id

    @staticmethod
    def _list(records: dict[int, dict[str, Any]], params: dict[str, Any]) -> list[dict[str, str]]:
        wanted = params.get("filter") or {}
        if params.get("select") != ["ID"] or not wanted:
            raise RefusedByStand(f"a list without select/filter: {params!r}")
        return [
            {"ID": str(record_id)}
            for record_id, record in records.items()
            if all(record.get(key) == value for key, value in wanted.items())
        ]


def _fields(params: dict[str, Any], documented: set[str]) -> dict[str, Any]:
    fields = params.get("fields")
    if not isinstance(fields, dict):
        raise RefusedByStand("Parameter 'fields' must be array.")
    unknown = set(fields) - documented
    if unknown:
        raise RefusedByStand(f"fields Bitrix24 does not document: {sorted(unknown)}")
    if not isinstance(params.get("params", {}), dict):
        raise RefusedByStand("Parameter 'params' must be array.")
    return fields


def _multifield(fields: dict[str, Any], name: str, types: set[str]) -> None:
    values = fields.get(name, [])
    if not isinstance(values, list) or not all(
        isinstance(v, dict)
        and isinstance(v.get("VALUE"), str)
        and v.get("VALUE_TYPE") in types
        and set(v) <= {"VALUE", "VALUE_TYPE"}
        for v in values
    ):
        raise RefusedByStand(f"{name} must be a list of {{VALUE, VALUE_TYPE}}: {values!r}")


def _error(status: int, code: str, description: str) -> web.Response:
    return web.json_response({"error": code, "error_description": description}, status=status)
