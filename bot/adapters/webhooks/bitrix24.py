"""The Bitrix24 hand-off over the portal's inbound webhook: a converted lead becomes a contact
(crm.contact.add) and a deal bound to it (crm.deal.add).

Each REST call is `POST <webhook url><method>` with a JSON body; Bitrix24 answers
`{"result": ...}`, or an HTTP error with `{"error": ..., "error_description": ...}`. Before
adding either record the hand-off asks for one made by an earlier try (crm.*.list filtered by
ORIGINATOR_ID and ORIGIN_ID), and keeps the contact's id on the lead the moment it has it: an
answer lost on the way, or a crash, never makes a second contact or deal.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp

from bot.adapters.webhooks.attempt import Attempt
from bot.common.clock import Clock
from bot.config import Bitrix24
from bot.crm.bitrix24 import (
    ORIGINATOR,
    already_handed_off,
    contact_fields,
    contact_origin,
    deal_fields,
    deal_origin,
    handed_off_ids,
    keep_contact,
    keep_deal,
)
from storage.db import SessionFactory
from storage.models import HookDelivery


class Bitrix24Error(Exception):
    def __init__(self, message: str, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class Bitrix24Client:
    """Calls the REST methods of one portal through its inbound webhook address (which holds
    its key: never logged; errors name the method, not the address)."""

    def __init__(self, url: str, timeout: timedelta) -> None:
        self._url = url if url.endswith("/") else url + "/"
        self._timeout = aiohttp.ClientTimeout(total=timeout.total_seconds())

    async def call(self, http: aiohttp.ClientSession, method: str, params: dict[str, Any]) -> Any:
        """The method's `result`. Bitrix24Error: permanent when the portal refused the request
        itself (HTTP 400: a field it will not take, no permission), else worth a retry (5xx,
        429, 503 over the request limit, 401 while the webhook's key is being fixed, network)."""
        try:
            async with http.post(
                self._url + method,
                json=params,
                headers={"Accept": "application/json"},
                allow_redirects=False,
                timeout=self._timeout,
            ) as response:
                status = response.status
                try:
                    answer = await response.json(content_type=None)
                except ValueError:
                    answer = None
        except TimeoutError as exc:
            raise Bitrix24Error(f"{method}: no answer in time", permanent=False) from exc
        except aiohttp.ClientError as exc:
            raise Bitrix24Error(f"{method}: {type(exc).__name__}: {exc}", permanent=False) from exc
        if isinstance(answer, dict) and "error" in answer:
            words = f"{answer.get('error') or ''} {answer.get('error_description') or ''}".strip()
            raise Bitrix24Error(f"{method}: HTTP {status}: {words}"[:400], permanent=status == 400)
        if status != 200 or not isinstance(answer, dict) or "result" not in answer:
            raise Bitrix24Error(f"{method}: HTTP {status}, no result", permanent=False)
        return answer["result"]

    async def find(self, http: aiohttp.ClientSession, entity: str, origin: str) -> int | None:
        """The id of the contact or deal an earlier try made (None: none was)."""
        found = await self.call(
            http,
            f"crm.{entity}.list",
            {"filter": {"ORIGINATOR_ID": ORIGINATOR, "ORIGIN_ID": origin}, "select": ["ID"]},
        )
        if isinstance(found, list) and found and isinstance(found[0], dict) and "ID" in found[0]:
            return int(found[0]["ID"])
        return None

    async def add(self, http: aiohttp.ClientSession, entity: str, fields: dict[str, Any]) -> int:
        made = await self.call(
            http,
            f"crm.{entity}.add",
            {"fields": fields, "params": {"REGISTER_SONET_EVENT": "N"}},
        )
        try:
            return int(made)
        except (TypeError, ValueError) as exc:
            raise Bitrix24Error(f"crm.{entity}.add: no id in {made!r:.60}", False) from exc


class Bitrix24HandOff:
    """One hand-off row: find or make the contact (its id kept at once), then find or make the
    deal; the deal's id, the row's delivery and the card's refresh in one commit."""

    def __init__(
        self, client: Bitrix24Client, rules: Bitrix24, sessions: SessionFactory, clock: Clock
    ) -> None:
        self._client = client
        self._rules = rules
        self._sessions = sessions
        self._clock = clock

    async def __call__(self, http: aiohttp.ClientSession, row: HookDelivery) -> Attempt:
        lead = row.payload.get("lead") or {}
        lead_id = row.lead_id
        if lead_id is None or not lead:
            return Attempt.failed("a hand-off without its lead", permanent=True)
        try:
            async with self._sessions() as session:
                contact_id, deal_id = await handed_off_ids(session, lead_id)
            if deal_id is not None:
                async with self._sessions() as session:
                    await already_handed_off(session, row.id, self._clock.now())
                return Attempt(True, settled=True)
            if contact_id is None:
                contact_id = await self._found_or_made(
                    http, "contact", contact_origin(lead), contact_fields(lead, self._rules)
                )
                async with self._sessions() as session:
                    await keep_contact(session, lead_id, contact_id)
            deal_id = await self._found_or_made(
                http, "deal", deal_origin(lead), deal_fields(lead, contact_id, self._rules)
            )
            async with self._sessions() as session:
                await keep_deal(session, row.id, lead_id, deal_id, self._clock.now())
        except Bitrix24Error as exc:
            return Attempt.failed(f"Bitrix24 {exc}", exc.permanent)
        return Attempt(True, settled=True)

    async def _found_or_made(
        self, http: aiohttp.ClientSession, entity: str, origin: str, fields: dict[str, Any]
    ) -> int:
        found = await self._client.find(http, entity, origin)
        return found if found is not None else await self._client.add(http, entity, fields)
