"""Zadarma's API (https://api.zadarma.com): signed requests.

Followed: zadarma/user-api-v1 (lib/Client.php, lib/Api.php). Every method is under /v1/ with a
trailing slash (`/v1/request/callback/`); the parameters get `format=json`; a GET carries them
in the query, a POST as a form. The `Authorization` header is `<key>:<signature>`, where the
signature is base64 of PHP's hash_hmac('sha1', method . params . md5(params), secret) — the HEX
digest's text, base64-encoded — and `params` is http_build_query (RFC 1738: spaces as `+`) of
the parameters sorted by name (ksort). An answer is JSON: `{"status": "success", ...}`, or
`{"status": "error", "message": "..."}` (also with HTTP 4xx), which the client raises as its
message. request/callback takes `from` (the extension rung first), `to` (the number, digits
only: Api::filterNumber), optional `sip` and `predicted`; it answers from, to and time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import quote_plus

import aiohttp

from bot.adapters.pbx.answers import PbxAnswer, json_answer, short

CALLBACK = "/v1/request/callback/"


def php_query(params: Mapping[str, str]) -> str:
    """PHP's http_build_query(..., PHP_QUERY_RFC1738) of the parameters sorted by name."""
    return "&".join(
        f"{_php_quote(name)}={_php_quote(value)}" for name, value in sorted(params.items())
    )


def _php_quote(value: str) -> str:
    return quote_plus(value, safe="").replace("~", "%7E")  # PHP's urlencode encodes ~ too


def zadarma_api_signature(method: str, params: Mapping[str, str], secret: str) -> str:
    """The signature of a request to `method` (e.g. "/v1/request/callback/") with `params`."""
    query = php_query(params)
    signed = method + query + hashlib.md5(query.encode()).hexdigest()
    digest = hmac.new(secret.encode(), signed.encode(), hashlib.sha1).hexdigest()
    return base64.b64encode(digest.encode()).decode()


def zadarma_authorization(key: str, method: str, params: Mapping[str, str], secret: str) -> str:
    """The `Authorization` header's value."""
    return f"{key}:{zadarma_api_signature(method, params, secret)}"


async def zadarma_request(
    base: str,
    key: str,
    secret: str,
    method: str,
    params: Mapping[str, str],
    *,
    http_method: str = "GET",
    within: float = 10.0,
) -> PbxAnswer:
    """One signed call of Zadarma's API; its answer as a PbxAnswer."""
    signed = {**params, "format": "json"}
    headers = {"Authorization": zadarma_authorization(key, method, signed, secret)}
    url = base.rstrip("/") + method
    query = php_query(signed)

    async def send(http: aiohttp.ClientSession) -> aiohttp.ClientResponse:
        if http_method.upper() == "GET":
            return await http.get(f"{url}?{query}", headers=headers)
        form = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
        return await http.request(http_method.upper(), url, data=query, headers=form)

    read = await json_answer(send, within)
    if isinstance(read, PbxAnswer):
        return read
    status, data = read
    if data.get("status") == "error" or status >= 400:
        message = data.get("message") or f"HTTP {status}"
        return PbxAnswer(ok=False, status=status, data=data, error=short(message))
    return PbxAnswer(ok=True, status=status, data=data)
