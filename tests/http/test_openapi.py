"""/api/v1/openapi.json: every route the application serves is in it, it is valid OpenAPI 3.1,
its examples are what the models accept, and the live application answers what it says.

The last is schemathesis against the running application: requests generated from the
document (valid ones, and ones the document says are invalid), each answer checked — never a
5xx, a status the document lists, its content type, and a body matching its schema. Bounded:
a fixed number of examples per operation, derandomised, no example database (~15 s)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from openapi_spec_validator import validate
from pydantic import BaseModel
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from bot.app import Application
from bot.common.clock import ManualClock
from bot.common.hook_events import HookEvent
from bot.devtools.emulator import TelegramEmulator
from bot.telephony.pbx import zadarma_signature
from handlers.web.openapi import build_document, operation_of, served_routes
from storage.db import SessionFactory
from tests.harness import (
    INTAKE_TOKEN,
    MANGO_KEY,
    MANGO_SALT,
    SECRETS,
    TOKEN,
    VK_SECRET,
    ZADARMA_SECRET,
    running_app,
)

API_TOKEN = "openapi-reader-secret-for-tests"
METRICS_TOKEN = "openapi-metrics-secret-for-tests"
EXAMPLES = 20  # per operation and generation mode


@pytest.fixture
async def emulator() -> AsyncIterator[TelegramEmulator]:
    emu = TelegramEmulator(token=TOKEN)
    await emu.start()
    yield emu
    await emu.stop()


@pytest.fixture
async def app(
    emulator: TelegramEmulator, database_url: str, clock: ManualClock, sessions: SessionFactory
) -> AsyncIterator[Application]:
    async with running_app(
        emulator,
        database_url,
        clock,
        api_token=API_TOKEN,
        metrics_token=METRICS_TOKEN,
        **SECRETS,
    ) as application:
        yield application


@pytest.fixture
async def document(app: Application) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"http://127.0.0.1:{app.http_port}/api/v1/openapi.json") as response,
    ):
        assert response.status == 200
        return dict(await response.json())


async def test_every_route_is_in_the_document(app: Application, document: dict[str, Any]) -> None:
    """A route added without `@documented(...)` fails here, by name: the document lists what
    the application serves, no more and no less."""
    served = {(method.lower(), path) for method, path, _ in served_routes(app.web_app)}
    undocumented = sorted(
        f"{method} {path}"
        for method, path, route in served_routes(app.web_app)
        if operation_of(route) is None
    )
    assert undocumented == []
    listed = {(method, path) for path, item in document["paths"].items() for method in item}
    assert listed == served
    assert ("get", "/api/v1/leads/{id}") in listed and ("post", "/hooks/zadarma") in listed


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    validate(document)  # raises, naming the first fault
    assert document["openapi"] == "3.1.0"
    read = document["paths"]["/api/v1/leads"]["get"]
    assert read["security"] == [{"apiToken": []}]
    assert {p["name"] for p in read["parameters"]} >= {"status", "owner", "cursor", "limit"}


def _models(document: dict[str, Any]) -> dict[str, type[BaseModel]]:
    """Every model a route of the document names, by its component name."""
    from handlers.web.schemas import calls, common, connectors, intake, leads, reports, webhooks

    found = {}
    for module in (calls, common, connectors, intake, leads, reports, webhooks):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseModel) and value is not BaseModel:
                found[value.__name__] = value
    return {
        name: model for name, model in found.items() if name in document["components"]["schemas"]
    }


def test_every_example_is_what_its_model_takes(document: dict[str, Any]) -> None:
    """The examples a reader copies from the document are valid: each one validates with the
    model it illustrates (and an answer's example serialises back to itself)."""
    checked = 0
    for name, model in _models(document).items():
        for example in document["components"]["schemas"][name].get("examples", []):
            parsed = model.model_validate(example)
            if name.endswith(("Answer", "Out", "Accepted")):
                assert json.loads(parsed.model_dump_json(by_alias=True)) == example, name
            checked += 1
    assert checked >= 12


def test_the_webhooks_leadbot_sends_are_described(document: dict[str, Any]) -> None:
    """OpenAPI 3.1's `webhooks`: every event a receiver may get, its signed headers and the
    envelope (tests/app/test_e2e_webhooks.py checks real bodies against the same model)."""
    assert set(document["webhooks"]) == {event.value for event in HookEvent}
    taken = document["webhooks"]["lead.taken"]["post"]
    assert {p["name"] for p in taken["parameters"]} == {
        "X-Leadbot-Event",
        "X-Leadbot-Timestamp",
        "X-Leadbot-Signature",
        "Idempotency-Key",
    }
    body = taken["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/WebhookEnvelope"}


def test_adding_a_route_to_the_document_is_one_decorator() -> None:
    """What ARCHITECTURE.md says to do for a new route (here a /metrics-like one)."""
    from aiohttp import web

    from handlers.web.openapi import (
        Answer,
        Operation,
        add_openapi_route,
        documented,
        openapi_document,
    )

    @documented(
        Operation(summary="Metrics", tag="ops", answers=(Answer(200, "text", media="text/plain"),))
    )
    async def metrics(request: web.Request) -> web.Response:
        return web.Response(text="")

    app = web.Application()
    app.router.add_get("/metrics", metrics)
    add_openapi_route(app)
    paths = openapi_document(app)["paths"]
    assert paths["/metrics"]["get"]["responses"]["200"]["content"] == {
        "text/plain": {"schema": {"type": "string"}}
    }
    assert build_document([])["paths"] == {}


# --- schemathesis against the live application ------------------------------------------------

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _credentials(case: Any, document: dict[str, Any]) -> None:
    """The right secret for the case's route, put into the case itself (so schemathesis judges
    the request as sent), so the fuzz reaches past the door: the tokens, VK's secret, Mango's
    sign, Zadarma's signature, Bitrix24's token in the path."""
    path, body = case.operation.path, case.body
    entry = document["paths"][path][case.method.lower()]
    security = {name for alternative in entry.get("security", []) for name in alternative}
    bearer = {"apiToken": API_TOKEN, "intakeToken": INTAKE_TOKEN, "metricsToken": METRICS_TOKEN}
    if security & set(bearer):
        token = next(bearer[name] for name in bearer if name in security)
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
    elif "intakeTokenInUrl" in security:
        case.query = {**(case.query or {}), "token": INTAKE_TOKEN}
    if path.startswith("/rest/") and case.path_parameters:
        case.path_parameters = {**case.path_parameters, "token": INTAKE_TOKEN}
    if path == "/hooks/vk" and isinstance(body, dict):
        body["secret"] = VK_SECRET
    if path.startswith("/hooks/mango") and isinstance(body, dict):
        text = str(body.get("json", ""))
        signed = (MANGO_KEY + text + MANGO_SALT).encode("utf-8", "surrogatepass")
        body.update(json=text, vpbx_api_key=MANGO_KEY, sign=hashlib.sha256(signed).hexdigest())
    if path == "/hooks/zadarma" and case.method == "POST" and isinstance(body, dict):
        fields = {str(k): str(v) for k, v in body.items()}
        signature = zadarma_signature(fields, ZADARMA_SECRET)
        case.headers = {**(case.headers or {}), "Signature": signature}


def _exchanges(
    strategy: Any, checks: list[Any], base_url: str, seen: list[int], document: dict[str, Any]
) -> Any:
    """A bounded Hypothesis run of one operation: each case sent, its answer checked."""

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def exchange(case: Any) -> None:
        _credentials(case, document)
        response = case.call_and_validate(base_url=base_url, checks=checks, timeout=10)
        seen.append(response.status_code)

    return exchange


def _fuzz(document: dict[str, Any], base_url: str, answered: dict[str, list[int]]) -> list[str]:
    """Every operation in both generation modes; the failures, as text (run in a thread:
    schemathesis calls with `requests` while the application serves on the test's loop)."""
    schema = schemathesis.openapi.from_dict(document)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            checks = CHECKS + ([negative_data_rejection] if mode is GenerationMode.NEGATIVE else [])
            strategy = operation.as_strategy(generation_mode=mode)
            seen = answered.setdefault(
                f"{operation.method.upper()} {operation.path} {mode.value}", []
            )
            try:
                _exchanges(strategy, checks, base_url, seen, document)()
            except Unsatisfiable:  # nothing to make invalid (GET /healthz takes no input)
                continue
            except (Exception, BaseExceptionGroup) as exc:  # the case, the check, the answer
                name = f"{operation.method.upper()} {operation.path} ({mode.value})"
                failures.append(f"{name}: {exc}")
    return failures


async def test_the_live_application_answers_what_its_document_says(
    app: Application, document: dict[str, Any]
) -> None:
    base_url = f"http://127.0.0.1:{app.http_port}"
    answered: dict[str, list[int]] = {}
    failures = await asyncio.to_thread(_fuzz, document, base_url, answered)
    assert not failures, "\n\n".join(failures)[:20_000]
    # the valid requests got past the door: every operation answered some of them with a 2xx,
    # but those whose content the core checks beyond the shape (the document's models are
    # never stricter than the core): random text is not a phone, a time, or Mango's JSON
    unreached = {
        name.removesuffix(" positive")
        for name, statuses in answered.items()
        if name.endswith("positive") and not any(200 <= status < 300 for status in statuses)
    }
    assert unreached <= {
        "POST /api/v1/calls",
        "POST /hooks/mango/events/summary",
        "POST /hooks/mango/events/record/added",  # needs entry_id and recording_id
        "POST /rest/{user_id}/{token}/crm.lead.add.json",
    }, {name: sorted(set(answered[f"{name} positive"])) for name in unreached}
