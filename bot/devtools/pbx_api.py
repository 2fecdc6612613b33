"""A local stand-in for the office PBX's API (Zadarma and Mango Office), for the tests and the
sandbox: it checks paths, parameters and signatures as the vendors document them (written
from their documents, not from leadbot's client, so a client that signs wrongly is refused),
answers as they do, can be told to refuse, fail or be slow, and records what it received.

Zadarma (zadarma/user-api-v1, lib/Client.php + lib/Api.php): GET /v1/request/callback/?from=
&to=&format=json with `Authorization: <key>:<base64(hex hmac-sha1(path + query + md5(query),
secret))>`, query = the parameters sorted by name, RFC 1738-encoded. Answers {"status":
"success", "from", "to", "time"} or {"status": "error", "message"} (401 for a bad signature).

Mango Office (VPBX API v1.9): POST /vpbx/commands/callback, a form of vpbx_api_key, sign =
sha256 hex(vpbx_api_key + json + vpbx_api_salt), json {command_id, from: {extension},
to_number}. Answers {"result": 1000}, or the refusal's code (3102 sign, 3105 key, 3103 a
missing parameter, 3104 a malformed one).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web

ZADARMA_CALLBACK = "/v1/request/callback/"
MANGO_CALLBACK = "/vpbx/commands/callback"


@dataclass(frozen=True)
class Received:
    """One request the stand-in took, and whether its signature held."""

    vendor: str  # zadarma, mango
    path: str
    params: dict[str, Any]  # Zadarma's query; Mango's json, decoded
    signed: bool
    status: int  # what was answered (HTTP)
    answer: dict[str, Any]


@dataclass
class PbxApi:
    """Both vendors' APIs on one local server. Behaviour for the next requests:
    `refusal` (Zadarma's message / Mango's result code), `failure` (an HTTP status, e.g. 503),
    `delay` (seconds before answering)."""

    zadarma_key: str = "zd-key"
    zadarma_secret: str = "zd-secret"
    mango_key: str = "mango-key"
    mango_salt: str = "mango-salt"
    refusal: str | None = None
    mango_refusal: int | None = None
    failure: int | None = None
    delay: float = 0.0
    received: list[Received] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def mango_base(self) -> str:
        return f"{self.url}/vpbx"

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(ZADARMA_CALLBACK, self._zadarma_callback)
        app.router.add_post(MANGO_CALLBACK, self._mango_callback)
        return app

    async def start(self, port: int = 0) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _behave(self) -> web.Response | None:
        if self.delay:
            await asyncio.sleep(self.delay)  # a slow PBX: the client's time-out is tested
        if self.failure is not None:
            return web.json_response({"error": "injected"}, status=self.failure)
        return None

    def _note(
        self, vendor: str, path: str, params: dict[str, Any], signed: bool, status: int, answer: Any
    ) -> web.Response:
        self.received.append(Received(vendor, path, params, signed, status, answer))
        return web.json_response(answer, status=status)

    # --- Zadarma --------------------------------------------------------------------------
    def zadarma_sign_ok(self, path: str, params: list[tuple[str, str]], header: str) -> bool:
        key, _, given = header.partition(":")
        ordered = sorted(params)  # ksort
        query = "&".join(f"{_urlencode(k)}={_urlencode(v)}" for k, v in ordered)
        md5 = hashlib.md5(query.encode()).hexdigest()
        mac = hmac.new(self.zadarma_secret.encode(), (path + query + md5).encode(), hashlib.sha1)
        expected = base64.b64encode(mac.hexdigest().encode()).decode()
        return hmac.compare_digest(key, self.zadarma_key) and hmac.compare_digest(given, expected)

    async def _zadarma_callback(self, request: web.Request) -> web.Response:
        pairs = parse_qsl(request.query_string, keep_blank_values=True)
        params = dict(pairs)
        signed = self.zadarma_sign_ok(request.path, pairs, request.headers.get("Authorization", ""))
        if not signed:
            answer = {"status": "error", "message": "Not authorized"}
            return self._note("zadarma", request.path, params, False, 401, answer)
        failed = await self._behave()
        if failed is not None:
            self.received.append(Received("zadarma", request.path, params, True, failed.status, {}))
            return failed
        missing = [name for name in ("from", "to") if not params.get(name)]
        if missing or params.get("format") != "json":
            message = f"Wrong parameters: {', '.join(missing) or 'format'}"
            return self._note("zadarma", request.path, params, True, 400, _error(message))
        if not params["to"].isdigit():
            return self._note("zadarma", request.path, params, True, 400, _error("Wrong number"))
        if self.refusal is not None:
            return self._note("zadarma", request.path, params, True, 200, _error(self.refusal))
        answer = {
            "status": "success",
            "from": params["from"],
            "to": params["to"],
            "time": int(time.time()),
        }
        return self._note("zadarma", request.path, params, True, 200, answer)

    # --- Mango Office ---------------------------------------------------------------------
    async def _mango_callback(self, request: web.Request) -> web.Response:
        form = await request.post()
        key, sign, text = (str(form.get(name, "")) for name in ("vpbx_api_key", "sign", "json"))
        try:
            payload = json.loads(text) if text else None
        except ValueError:
            payload = None
        params = payload if isinstance(payload, dict) else {}
        path = request.path
        if not key or not sign or not text:
            return self._note("mango", path, params, False, 200, {"result": 3103})
        if not hmac.compare_digest(key, self.mango_key):
            return self._note("mango", path, params, False, 200, {"result": 3105})
        expected = hashlib.sha256((key + text + self.mango_salt).encode()).hexdigest()
        if not hmac.compare_digest(sign.lower(), expected):
            return self._note("mango", path, params, False, 200, {"result": 3102})
        failed = await self._behave()
        if failed is not None:
            self.received.append(Received("mango", path, params, True, failed.status, {}))
            return failed
        caller = params.get("from")
        extension = caller.get("extension") if isinstance(caller, dict) else None
        number = params.get("to_number")
        if not params.get("command_id") or not extension or not number:
            return self._note("mango", path, params, True, 200, {"result": 3103})
        if not str(number).isdigit():
            return self._note("mango", path, params, True, 200, {"result": 3104})
        if self.mango_refusal is not None:
            return self._note("mango", path, params, True, 200, {"result": self.mango_refusal})
        return self._note("mango", path, params, True, 200, {"result": 1000})


def _urlencode(text: str) -> str:
    """PHP's urlencode (http_build_query's RFC 1738 form): letters, digits and -_. stay,
    a space is +, every other byte %XX."""
    kept = b"-_."
    return "".join(
        chr(byte)
        if chr(byte).isascii() and (chr(byte).isalnum() or byte in kept)
        else "+"
        if byte == 0x20
        else f"%{byte:02X}"
        for byte in text.encode()
    )


def _error(message: str) -> dict[str, str]:
    return {"status": "error", "message": message}
