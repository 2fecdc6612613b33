"""GET /metrics in Prometheus's text format, and the intake's timing and refusals.

The counters and timings are recorded where things happen (bot/common/metrics.py); the
database's state is read here, at scrape time (bot/common/gauges.py). With METRICS_TOKEN set,
only `Authorization: Bearer <METRICS_TOKEN>` may read (401 otherwise); the intake's token never
does.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import generate_latest

from bot.common.clock import Clock
from bot.common.gauges import DatabaseState, StateCollector, read_state
from bot.common.metrics import REJECTED, UNAUTHORISED, Metrics
from handlers.web.body import error_response, same_secret
from handlers.web.openapi import METRICS_AUTH, TEXT, Answer, Operation, documented, refused
from storage.db import SessionFactory

log = logging.getLogger("leadbot.metrics")

# the classic text format: every Prometheus since 2.0 reads it (our names need no escaping)
TEXT_FORMAT = "text/plain; version=0.0.4; charset=utf-8"
STATE_TIMEOUT = 5.0  # seconds: a scrape answers (without the database's gauges) rather than hang

# The intake's routes (POST), as the metrics name them: the label of their timing, and the
# source a refused request is counted under (its body is not trusted to name one).
INTAKE_ROUTES = {
    "/api/v1/leads": "api",
    "/hooks/tilda": "tilda",
    "/hooks/cf7": "cf7",
    "/hooks/elementor": "elementor",
    "/hooks/vk": "vk",
    "/rest/{user_id}/{token}/crm.lead.add.json": "bitrix24",
}


@dataclass
class MetricsSettings:
    metrics: Metrics
    token: str | None  # METRICS_TOKEN; None: /metrics is open
    sessions: SessionFactory
    clock: Clock  # the outbox's ages are business time, as its rows are stamped
    webhooks: tuple[str, ...] = ()  # the configured delivery targets (shown with 0s too)
    collector: StateCollector = field(default_factory=StateCollector)


METRICS_SETTINGS = web.AppKey("metrics_settings", MetricsSettings)
METRICS = web.AppKey("metrics", Metrics)


def _refusal(request: web.Request, token: str | None) -> web.Response | None:
    if token is None:
        return None
    header = request.headers.get("Authorization", "")
    given = header[7:].strip() if header.lower().startswith("bearer ") else ""
    if not given or not same_secret(given, token):
        refused = error_response(401, "missing or wrong token")
        refused.headers["WWW-Authenticate"] = "Bearer"
        return refused
    return None


@documented(
    Operation(
        summary="Metrics for Prometheus",
        description="The counters (leads received, intake latency, Telegram calls, job and "
        "report durations) and the database's state read at scrape time (outbox, open leads, "
        "webhooks' backlog), in Prometheus's text format 0.0.4. README: Metrics.",
        tag="ops",
        security=METRICS_AUTH,
        answers=(
            Answer(200, "the exposition", media=TEXT),
            *refused((401, "METRICS_TOKEN is set and the header does not carry it")),
        ),
    )
)
async def get_metrics(request: web.Request) -> web.Response:
    settings = request.app[METRICS_SETTINGS]
    refused = _refusal(request, settings.token)
    if refused is not None:
        return refused
    try:
        async with asyncio.timeout(STATE_TIMEOUT), settings.sessions() as session:
            state = await read_state(session, settings.clock.now(), settings.webhooks)
    except Exception as exc:  # the counters still tell what happened; the state says "down"
        log.warning("metrics: the database state could not be read: %s", type(exc).__name__)
        state = DatabaseState(up=False)
    # set and rendered with no await between: a concurrent scrape cannot mix its state in
    settings.collector.state = state
    return web.Response(
        body=generate_latest(settings.metrics.registry), headers={"Content-Type": TEXT_FORMAT}
    )


@web.middleware
async def intake_metrics(request: web.Request, handler: web.Handler) -> web.StreamResponse:
    """Times every answer of the intake's routes, and counts the leads they refused (the leads
    they stored are counted by the intake queue, which knows each one's source)."""
    resource = request.match_info.route.resource
    route = INTAKE_ROUTES.get(resource.canonical) if resource is not None else None
    if route is None or request.method != "POST":
        return await handler(request)
    metrics = request.app[METRICS]
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        metrics.intake_seconds.labels(route).observe(time.perf_counter() - started)
        if status in (401, 403):
            metrics.lead_received(route, UNAUTHORISED)
        elif 400 <= status < 500:
            metrics.lead_received(route, REJECTED)


@asynccontextmanager
async def timed_report(request: web.Request, report: str) -> AsyncIterator[None]:
    """A report computed for a request, timed in leadbot_report_duration_seconds (when the
    application serves /metrics)."""
    metrics = request.app.get(METRICS)
    if metrics is None:
        yield
        return
    with metrics.timed_report(report):
        yield


def add_metrics_route(app: web.Application, settings: MetricsSettings) -> None:
    """GET /metrics, and the intake's timing (a middleware: add before the app starts)."""
    settings.metrics.register(settings.collector)
    app[METRICS_SETTINGS] = settings
    app[METRICS] = settings.metrics
    app.middlewares.append(intake_metrics)
    app.router.add_get("/metrics", get_metrics)
