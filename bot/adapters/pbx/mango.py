"""Mango Office's VPBX API (https://app.mango-office.ru/vpbx): signed commands.

Followed: Mango Office "API Виртуальной АТС" (MangoOffice_VPBX_API v1.9), as the client
libraries read it (Bobrovskih/mango-vpbx: src/urls.js, src/vpbx.js, src/messages.js). Every
request is a POST of a form with `vpbx_api_key`, `sign` and `json`, where sign is the SHA-256
hex of vpbx_api_key + json + vpbx_api_salt (the same rule as the PBX's own events:
bot/telephony/pbx.mango_sign). `commands/callback` takes json {command_id, from: {extension,
number?}, to_number, line_number?}: the PBX rings the employee's extension, then to_number
(digits). The answer is JSON {"result": <code>}: 1000 is done; 3xxx a refused request (3102:
the sign does not match, 3105: an unknown key, 3200: a wrong number, 3330: no such extension),
2xxx the account's limits, 4xxx cannot be done now, 5xxx the PBX's own trouble.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import aiohttp

from bot.adapters.pbx.answers import PbxAnswer, json_answer, unreachable
from bot.telephony.pbx import mango_sign

CALLBACK = "/commands/callback"
DONE = 1000


def mango_form(api_key: str, salt: str, payload: Mapping[str, Any]) -> dict[str, str]:
    """The signed form of a command: the json exactly as signed."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    return {"vpbx_api_key": api_key, "sign": mango_sign(api_key, text, salt), "json": text}


def result_code(data: Mapping[str, Any]) -> int | None:
    value = data.get("result")
    if isinstance(value, bool):
        return None
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


async def mango_request(
    base: str,
    api_key: str,
    salt: str,
    command: str,
    payload: Mapping[str, Any],
    *,
    within: float = 10.0,
) -> PbxAnswer:
    """One signed command; `error` holds Mango's result code (as text) when it was not done."""
    url = base.rstrip("/") + command
    form = mango_form(api_key, salt, payload)

    async def send(http: aiohttp.ClientSession) -> aiohttp.ClientResponse:
        return await http.post(url, data=form)

    read = await json_answer(send, within)
    if isinstance(read, PbxAnswer):
        return read
    status, data = read
    code = result_code(data)
    if code == DONE and status < 400:
        return PbxAnswer(ok=True, status=status, data=data)
    if code is None:
        return PbxAnswer(ok=False, status=status, data=data, error=f"HTTP {status}")
    if 5000 <= code < 6000:  # the PBX's own trouble (overload, restart): try again later
        answer = unreachable(str(code), status)
        return PbxAnswer(False, False, status, data, answer.error)
    return PbxAnswer(ok=False, status=status, data=data, error=str(code))
