"""A stand-in for the PBXs' recording APIs (Zadarma, Mango Office), for the tests: it checks
the paths, parameters and signatures as the vendors document them (bot/adapters/pbx/
recordings.py cites them) and serves an audio file through a one-use, expiring link.

Zadarma: `GET /v1/pbx/record/request/` (Authorization `<key>:<signature>`; call_id or
pbx_call_id; lifetime 180..5184000; format) answers {status, link, lifetime_till} or
{status: "error", message}; the link is `/files/<token>.mp3`. Mango: `POST
/queries/recording/post` (form vpbx_api_key, sign, json {recording_id, action}) answers a 302
to such a link for `download`, or {"result": <code>} as JSON when it refuses (3105 an unknown
key, 3102 a sign that does not match; 3100 for a recording it does not have is the
stand-in's own choice).

What a test may turn: `down` (every API call answers 503), `expire_links` (a link is
already gone when it is opened: 404, as after lifetime_till), `declared_size` (a file's
Content-Length, to play a file over 50 MB without sending one), `chunked` (no Content-Length:
the size is known only once read).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from urllib.parse import urlencode

from aiohttp import web

ZADARMA_PATH = "/v1/pbx/record/request/"
MANGO_PATH = "/queries/recording/post"


@dataclass
class PbxRecordings:
    """The recordings both PBXs hold (their ids -> bytes) and what was asked of them."""

    zadarma_key: str
    zadarma_secret: str
    mango_key: str
    mango_salt: str
    zadarma: dict[str, bytes] = field(default_factory=dict)  # call_id_with_rec -> audio
    mango: dict[str, bytes] = field(default_factory=dict)  # recording_id -> audio
    down: bool = False
    expire_links: bool = False
    declared_size: int | None = None
    chunked: bool = False  # sent without a Content-Length: its size known only once read
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    _links: dict[str, bytes] = field(default_factory=dict)

    # --- Zadarma ----------------------------------------------------------------------

    def _zadarma_signed(self, request: web.Request) -> bool:
        given = request.headers.get("Authorization", "")
        key, _, signature = given.partition(":")
        query = urlencode(sorted(request.query.items()))
        signed = ZADARMA_PATH + query + hashlib.md5(query.encode()).hexdigest()
        digest = hmac.new(self.zadarma_secret.encode(), signed.encode(), hashlib.sha1).hexdigest()
        expected = base64.b64encode(digest.encode()).decode()
        return key == self.zadarma_key and hmac.compare_digest(signature, expected)

    async def zadarma_record(self, request: web.Request) -> web.Response:
        self.requests.append(("zadarma", dict(request.query)))
        if self.down:
            return web.Response(status=503, text="Service Unavailable")
        if not self._zadarma_signed(request):
            return web.json_response({"status": "error", "message": "Not authorized"}, status=401)
        query = request.query
        lifetime = query.get("lifetime", "1800")
        if not lifetime.isdigit() or not 180 <= int(lifetime) <= 5184000:
            return web.json_response({"status": "error", "message": "Wrong lifetime"})
        call_id = query.get("call_id")
        if not call_id and not query.get("pbx_call_id"):
            return web.json_response({"status": "error", "message": "Wrong parameters"})
        audio = self.zadarma.get(call_id or "")
        if audio is None:
            return web.json_response({"status": "error", "message": "record not found"})
        link = self._link(request, audio)
        return web.json_response(
            {"status": "success", "link": link, "lifetime_till": "2026-01-05 12:33:00"}
        )

    # --- Mango ------------------------------------------------------------------------

    async def mango_record(self, request: web.Request) -> web.Response:
        form = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        self.requests.append(("mango", form))
        if self.down:
            return web.Response(status=503, text="Service Unavailable")
        text = form.get("json", "")
        expected = hashlib.sha256((self.mango_key + text + self.mango_salt).encode()).hexdigest()
        if form.get("vpbx_api_key") != self.mango_key:
            return web.json_response({"result": 3105})  # an unknown key
        if form.get("sign") != expected:
            return web.json_response({"result": 3102})  # the sign does not match
        try:
            payload = json.loads(text)
        except ValueError:
            return web.json_response({"result": 3101})
        if payload.get("action") not in ("download", "play"):
            return web.json_response({"result": 3101})
        audio = self.mango.get(str(payload.get("recording_id", "")))
        if audio is None:  # its code is not in the documents we followed: the stand-in's own
            return web.json_response({"result": 3100})
        raise web.HTTPFound(self._link(request, audio))

    # --- the files --------------------------------------------------------------------

    def _link(self, request: web.Request, audio: bytes) -> str:
        token = secrets.token_urlsafe(16)
        self._links[token] = audio
        return str(request.url.with_path(f"/files/{token}.mp3").with_query(None))

    async def file(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        audio = self._links.pop(token, None)  # one use, as a temporary link
        if audio is None or self.expire_links:
            return web.Response(status=404, text="Not Found")
        if self.declared_size is not None:
            # a file over Telegram's limit: its size is declared, the reader stops there
            response = web.StreamResponse(headers={"Content-Type": "audio/mpeg"})
            response.content_length = self.declared_size
            await response.prepare(request)
            return response
        if self.chunked:
            response = web.StreamResponse(headers={"Content-Type": "audio/mpeg"})
            response.enable_chunked_encoding()
            await response.prepare(request)
            for start in range(0, len(audio), 4096):
                await response.write(audio[start : start + 4096])
            await response.write_eof()
            return response
        return web.Response(body=audio, content_type="audio/mpeg")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get(ZADARMA_PATH, self.zadarma_record)
        app.router.add_post(MANGO_PATH, self.mango_record)
        app.router.add_get("/files/{token}.mp3", self.file)
        return app
