"""An operator scrapes /metrics after real traffic: leads posted to the real HTTP intake and a
builder's hook, cards sent through the emulated Telegram (one answered 429, one refused 400),
a report asked for over the API, the sweeps run; then every number, read with
prometheus-client's own parser, is the one counted by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.app import Application
from bot.common.clock import ManualClock
from bot.devtools.emulator import TelegramEmulator
from storage.models import Staff
from tests.harness import (
    ANNA,
    BORIS,
    INTAKE_TOKEN,
    SVETA,
    Intake,
    outbox_sent,
    running_app,
    unpaced_config,
)

METRICS_TOKEN = "metrics-secret-for-tests"
API_TOKEN = "reports-secret-for-tests"
JOBS = ("alert_sweep", "daily_job", "weekly_job")
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
async def app(
    emulator: TelegramEmulator,
    database_url: str,
    clock: ManualClock,
    staff: dict[str, Staff],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Application]:
    monkeypatch.setenv("WEBHOOK_CRM_SECRET", "a-signing-secret-of-32-characters")
    # a receiver that is down (nothing listens on port 1): every lead.created waits
    hook = {
        "name": "crm",
        "url": "http://127.0.0.1:1/leads",
        "events": ["lead.created"],
        "secret_env": "WEBHOOK_CRM_SECRET",
    }
    async with running_app(
        emulator,
        database_url,
        clock,
        config=unpaced_config(webhooks=[hook]),
        metrics_token=METRICS_TOKEN,
        api_token=API_TOKEN,
    ) as application:
        yield application


def ran(app: Application, job: str) -> float | None:
    return app.metrics.registry.get_sample_value("leadbot_job_duration_seconds_count", {"job": job})


async def scrape(http: aiohttp.ClientSession, token: str | None) -> tuple[int, str, str]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.get("/metrics", headers=headers) as answer:
        return answer.status, answer.headers.get("Content-Type", ""), await answer.text()


def parsed(text: str) -> Samples:
    """Every sample by (name, labels), as Prometheus itself reads the page."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def test_metrics_count_what_happened(
    emulator: TelegramEmulator, app: Application, clock: ManualClock
) -> None:
    # Anna's first card is answered 429 (retried a second later), Boris's refused for good
    emulator.fail_next("sendMessage", 429, retry_after=1, chat_id=ANNA)
    emulator.fail_next("sendMessage", 400, description="Bad Request: chat not found", chat_id=BORIS)
    base = f"http://127.0.0.1:{app.http_port}"
    async with aiohttp.ClientSession(base_url=base) as http:
        intake = Intake(app, http)
        first = {"name": "Ivan", "phone": "+7 900 111-22-33", "source": "landing"}
        assert (await intake.post(first))[0] == 201
        assert (await intake.post(first | {"message": "again"}))[0] == 200  # joins his lead
        assert (await intake.post({"name": "<b>nobody</b>"}))[0] == 422  # no way to reach
        assert (await intake.post(first, token="wrong"))[0] == 401
        tilda = {"Name": "Olga", "Phone": "+7 900 222-33-44"}
        async with http.post(f"/hooks/tilda?token={INTAKE_TOKEN}", data=tilda) as answer:
            assert answer.status == 200
        await outbox_sent(app.sessions)
        params = {"from": "2026-01-01", "to": "2026-01-31"}
        headers = {"Authorization": f"Bearer {API_TOKEN}"}
        async with http.get("/api/v1/reports/summary", params=params, headers=headers) as answer:
            assert answer.status == 200
        # the sweeps run now, and the daily and weekly runs: Sveta's digest and weekly report
        app.clock_moved()
        for job in JOBS:
            await emulator.wait_for(lambda job=job: ran(app, job))
        await outbox_sent(app.sessions)
        # a lead whose cards cannot go yet (the notifier is stopped) waits for 90 s
        await app.notifier.stop()
        assert (await intake.post({"phone": "+7 900 333-44-55"}))[0] == 201
        clock.advance(timedelta(seconds=90))

        # the page is closed to anyone without METRICS_TOKEN, the intake's token too
        assert (await scrape(http, None))[0] == 401
        assert (await scrape(http, INTAKE_TOKEN))[0] == 401
        status, content_type, text = await scrape(http, METRICS_TOKEN)
    assert status == 200
    assert content_type.startswith("text/plain; version=0.0.4")
    samples = parsed(text)

    received = "leadbot_leads_received_total"
    assert value(samples, received, source="landing", answer="created") == 1
    assert value(samples, received, source="landing", answer="duplicate") == 1
    assert value(samples, received, source="tilda", answer="created") == 1
    assert value(samples, received, source="web_form", answer="created") == 1  # the third
    # refusals are counted by the route they came to, never by what their body claims
    assert value(samples, received, source="api", answer="rejected") == 1
    assert value(samples, received, source="api", answer="unauthorised") == 1
    latency = "leadbot_intake_request_duration_seconds_count"
    assert value(samples, latency, route="api") == 5
    assert value(samples, latency, route="tilda") == 1
    assert value(samples, "leadbot_intake_request_duration_seconds_bucket", route="api", le="+Inf")

    calls = "leadbot_telegram_calls_total"
    # cards: Anna's two (the first after its 429), Boris's Olga card (his Ivan card refused);
    # Sveta, the supervisor, is told of the refused card, then gets the daily digest and the
    # weekly report (an empty week: one message)
    assert value(samples, calls, method="sendMessage", result="ok") == 6
    assert value(samples, calls, method="sendMessage", result="429") == 1
    assert value(samples, calls, method="sendMessage", result="4xx") == 1
    assert value(samples, calls, method="sendMessage", result="5xx") is None
    sent = [r for r in emulator.requests if r.method == "sendMessage"]
    assert sorted((int(r.params["chat_id"]), r.status) for r in sent) == [
        (ANNA, 200),
        (ANNA, 200),
        (ANNA, 429),
        (BORIS, 200),
        (BORIS, 400),
        (SVETA, 200),
        (SVETA, 200),
        (SVETA, 200),
    ]

    assert value(samples, "leadbot_outbox_pending", kind="card") == 2  # the third lead's
    assert value(samples, "leadbot_outbox_oldest_pending_age_seconds", kind="card") == 90
    assert value(samples, "leadbot_outbox_pending", kind="text") == 0
    assert value(samples, "leadbot_outbox_failed", kind="card") == 1  # Boris's
    assert value(samples, "leadbot_open_leads", status="new") == 3
    assert value(samples, "leadbot_open_leads", status="in_work") == 0
    # three leads were created, the receiver never answered: all three wait, none given up
    assert value(samples, "leadbot_webhooks_pending", webhook="crm") == 3
    assert value(samples, "leadbot_webhooks_oldest_pending_age_seconds", webhook="crm") >= 90
    assert value(samples, "leadbot_webhooks_failed", webhook="crm") == 0
    assert value(samples, "leadbot_database_up") == 1
    for job in JOBS:
        assert (value(samples, "leadbot_job_duration_seconds_count", job=job) or 0) >= 1
    assert value(samples, "leadbot_report_duration_seconds_count", report="api_summary") == 1


async def test_metrics_are_open_without_a_token_and_apart_per_application(
    emulator: TelegramEmulator, database_url: str, clock: ManualClock, staff: dict[str, Staff]
) -> None:
    """Without METRICS_TOKEN anyone reaching the port reads the page; a second application in
    the same process counts on its own registry."""
    async with running_app(emulator, database_url, clock, config=unpaced_config()) as first:
        async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{first.http_port}") as http:
            assert (await Intake(first, http).post({"phone": "+7 900 444-55-66"}))[0] == 201
            status, _, text = await scrape(http, None)
        assert status == 200
        assert (
            value(parsed(text), "leadbot_leads_received_total", source="web_form", answer="created")
            == 1
        )
    async with running_app(emulator, database_url, clock, config=unpaced_config()) as second:
        async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{second.http_port}") as http:
            status, _, text = await scrape(http, None)
        assert status == 200
        samples = parsed(text)
        assert (
            value(samples, "leadbot_leads_received_total", source="web_form", answer="created")
            is None
        )
        assert value(samples, "leadbot_open_leads", status="new") == 1  # the database's, shared
