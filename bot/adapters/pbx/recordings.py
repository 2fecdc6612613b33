"""A call recording's file, fetched from the PBX's API at the moment someone presses its
button: nothing is stored, the link the PBX hands out is used once and never shown.

Followed:
- Zadarma (zadarma/user-api-v1: lib/Client.php, lib/Api.php `getPbxRecord`,
  lib/Response/PbxRecordRequest.php, examples/pbx_record_request.php):
  `GET <ZADARMA_API_BASE>/v1/pbx/record/request/?call_id=<call_id_with_rec>&format=json`
  (`pbx_call_id` may be sent instead; `lifetime` 180..5184000 s, default 1800), header
  `Authorization: <key>:<base64 of the HEX hmac-sha1 of path + query + md5(query), secret>`
  where the query is the parameters sorted by name, urlencoded (PHP's http_build_query,
  RFC 1738: spaces as `+`), `format=json` among them. The answer is JSON: `status`
  ("success" / "error" with `message`), `link` (one file: call_id was given; `links`, a list,
  for a pbx_call_id) and `lifetime_till`. The link is then downloaded.
- Mango Office VPBX ("API Виртуальной АТС", queries/recording/post): `POST
  <MANGO_API_BASE>/queries/recording/post` as a form `vpbx_api_key`, `sign` = sha256 hex of
  key + json + salt, `json` = {"recording_id": ..., "action": "download"}; the answer is the
  file, or a 302 to a short-lived link to it (followed); `action: "play"` would answer a
  link to listen to in a browser, which leadbot never shows.

Requests are signed by the click-to-call clients' functions (bot/adapters/pbx/zadarma.py
`zadarma_authorization`, `php_query`; mango.py `mango_form`, `result_code`): one scheme per
vendor, in one place. Mango's refusals are JSON result codes (3102: the sign does not match,
3105: an unknown key: a setting to fix; anything else: no such recording for us).

Every failure is one of four plain answers (`Problem`): the PBX's API is not configured,
the recording is no longer there (the PBX says so, or its link expired), the PBX is down
(timeouts are short: a press must not hang), or the file is over Telegram's 50 MB.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.adapters.pbx.mango import mango_form, result_code
from bot.adapters.pbx.zadarma import php_query, zadarma_authorization
from bot.config import Settings

log = logging.getLogger("leadbot.recordings")

TELEGRAM_UPLOAD_LIMIT = 50 * 1024 * 1024  # bytes a bot may upload (sendAudio)
ZADARMA_RECORD_PATH = "/v1/pbx/record/request/"
MANGO_RECORD_PATH = "/queries/recording/post"
LINK_LIFETIME = 180  # seconds: the shortest Zadarma allows; the link is used at once
CHUNK = 64 * 1024
MANGO_KEY_REFUSED = frozenset({3102, 3105})  # the sign does not match; an unknown key


class Problem(enum.StrEnum):
    """Why a recording could not be sent; each has an alert `recording_<value>`."""

    NOT_CONFIGURED = "not_configured"
    GONE = "gone"
    PBX_DOWN = "pbx_down"
    TOO_LARGE = "too_large"


class RecordingProblem(Exception):
    def __init__(self, problem: Problem, detail: str = "") -> None:
        super().__init__(f"{problem.value}: {detail}" if detail else problem.value)
        self.problem = problem


@dataclass(frozen=True)
class PbxAccess:
    """The PBX APIs' keys and bases, as configured (None: that PBX's API is off)."""

    zadarma_key: str | None
    zadarma_secret: str | None
    zadarma_base: str
    mango_key: str | None
    mango_salt: str | None
    mango_base: str

    @classmethod
    def of(cls, settings: Settings) -> PbxAccess:
        def secret(value: Any) -> str | None:
            return value.get_secret_value() if value is not None else None

        return cls(
            zadarma_key=secret(settings.zadarma_api_key),
            zadarma_secret=secret(settings.zadarma_api_secret),
            zadarma_base=settings.zadarma_api_base.rstrip("/"),
            mango_key=secret(settings.mango_api_key),
            mango_salt=secret(settings.mango_api_salt),
            mango_base=settings.mango_api_base.rstrip("/"),
        )

    def configured(self, provider: str) -> bool:
        if provider == "zadarma":
            return bool(self.zadarma_key and self.zadarma_secret)
        if provider == "mango":
            return bool(self.mango_key and self.mango_salt)
        return False


class Download:
    """A recording's file as the PBX began to send it: its declared size is checked before
    a byte is read; `read` takes the rest (bounded in bytes and in time)."""

    def __init__(self, response: aiohttp.ClientResponse, limit: int, within: float) -> None:
        self.response = response
        self.limit = limit
        self.within = within
        self.mime_type = response.content_type or "audio/mpeg"

    async def read(self) -> bytes:
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(self.within):
                async for chunk in self.response.content.iter_chunked(CHUNK):
                    size += len(chunk)
                    if size > self.limit:
                        raise RecordingProblem(Problem.TOO_LARGE)
                    chunks.append(chunk)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise RecordingProblem(Problem.PBX_DOWN, type(exc).__name__) from None
        return b"".join(chunks)


class RecordingFetcher:
    """Asks the PBX's API for a recording and opens its file. One HTTP session, opened at
    the first press and closed with the application."""

    def __init__(
        self,
        access: PbxAccess,
        *,
        connect_within: float = 5.0,
        answer_within: float = 10.0,
        download_within: float = 120.0,
        limit: int = TELEGRAM_UPLOAD_LIMIT,
    ) -> None:
        self.access = access
        # the press waits for the PBX's answer (alert on failure): short; the file's body
        # comes after the press is answered, so it may take longer
        self.timeout = aiohttp.ClientTimeout(
            total=None, connect=connect_within, sock_read=answer_within
        )
        self.answer_within = answer_within
        self.download_within = download_within
        self.limit = limit
        self._http: aiohttp.ClientSession | None = None

    def configured(self, provider: str) -> bool:
        return self.access.configured(provider)

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=self.timeout)
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()

    @asynccontextmanager
    async def opened(self, provider: str, ref: str) -> AsyncIterator[Download]:
        """The recording's file, its headers in and its size checked; RecordingProblem
        otherwise. The body is read inside (Download.read)."""
        if not self.configured(provider):
            raise RecordingProblem(Problem.NOT_CONFIGURED, provider)
        try:
            async with asyncio.timeout(self.answer_within):
                response = await (self._zadarma(ref) if provider == "zadarma" else self._mango(ref))
        except RecordingProblem:
            raise
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.warning("recording: %s unreachable (%s)", provider, type(exc).__name__)
            raise RecordingProblem(Problem.PBX_DOWN, type(exc).__name__) from None
        try:
            await self._check_file(provider, response)
            yield Download(response, self.limit, self.download_within)
        finally:
            response.release()

    async def _check_file(self, provider: str, response: aiohttp.ClientResponse) -> None:
        if response.content_type == "application/json":  # Mango refuses in JSON
            try:
                code = result_code(await response.json(content_type=None))
            except (ValueError, AttributeError, aiohttp.ClientError):
                code = None
            log.info("recording: %s refused it (result %s)", provider, code)
            if code in MANGO_KEY_REFUSED:
                raise RecordingProblem(Problem.NOT_CONFIGURED, f"result {code}")
            raise RecordingProblem(Problem.GONE, f"result {code}")
        if response.status in (403, 404, 410):  # an expired link, a deleted recording
            log.info("recording: %s has no file (HTTP %s)", provider, response.status)
            raise RecordingProblem(Problem.GONE, f"HTTP {response.status}")
        if response.status != 200:
            log.warning("recording: %s file answered HTTP %s", provider, response.status)
            raise RecordingProblem(Problem.PBX_DOWN, f"HTTP {response.status}")
        if (response.content_length or 0) > self.limit:
            raise RecordingProblem(Problem.TOO_LARGE)

    async def _zadarma(self, ref: str) -> aiohttp.ClientResponse:
        """Ask for the link (pbx/record/request), then open it."""
        key, secret = self.access.zadarma_key or "", self.access.zadarma_secret or ""
        params = {"call_id": ref, "lifetime": str(LINK_LIFETIME), "format": "json"}
        headers = {"Authorization": zadarma_authorization(key, ZADARMA_RECORD_PATH, params, secret)}
        url = f"{self.access.zadarma_base}{ZADARMA_RECORD_PATH}?{php_query(params)}"
        async with self._session().get(url, headers=headers) as answer:
            if answer.status in (401, 403):  # our key or signature refused: a setting
                log.warning("recording: zadarma refused the key (HTTP %s)", answer.status)
                raise RecordingProblem(Problem.NOT_CONFIGURED, f"HTTP {answer.status}")
            if answer.status >= 500:
                log.warning("recording: zadarma answered HTTP %s", answer.status)
                raise RecordingProblem(Problem.PBX_DOWN, f"HTTP {answer.status}")
            try:
                body = await answer.json(content_type=None)
            except ValueError:
                raise RecordingProblem(Problem.PBX_DOWN, "unreadable answer") from None
        link = body.get("link") if isinstance(body, dict) else None
        if not isinstance(body, dict) or body.get("status") != "success" or not link:
            message = str(body.get("message", ""))[:200] if isinstance(body, dict) else ""
            log.info("recording: zadarma has none (%s)", message)  # "record not found", ...
            raise RecordingProblem(Problem.GONE, message)
        # the link is a secret of its own (anyone holding it can listen): never logged
        return await self._session().get(str(link))

    async def _mango(self, ref: str) -> aiohttp.ClientResponse:
        """queries/recording/post with action download: the file, or a redirect to it."""
        access = self.access
        form = mango_form(
            access.mango_key or "",
            access.mango_salt or "",
            {"recording_id": ref, "action": "download"},
        )
        return await self._session().post(f"{access.mango_base}{MANGO_RECORD_PATH}", data=form)
