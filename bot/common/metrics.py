"""What an operator scrapes at /metrics: counters and timings the code records as things
happen, and the database's state (read at scrape time: bot/common/gauges.py).

One `Metrics` per application, each with its own `CollectorRegistry` (never prometheus-client's
global one): two applications in one process (the tests, the sandbox) count apart, and a test
reads its own numbers. The exposition is handlers/web/metrics.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics
from prometheus_client.registry import Collector

# the `_created` series (when each counter was made) would double the page for a value no
# dashboard reads; the switch is the library's, process-wide
disable_created_metrics()

# A lead's source is whatever a form sends (up to 64 characters): past this many distinct ones
# the rest are counted as OTHER_SOURCE, so a misbehaving form cannot grow the series without end.
MAX_SOURCES = 200
OTHER_SOURCE = "_other"

# What the intake answered a lead (leadbot_leads_received_total's `answer`).
CREATED = "created"  # 201: a new lead
DUPLICATE = "duplicate"  # 200: joined the person's open lead
REPEATED = "repeated"  # 200: the same external_id from the same source again: stored once
REJECTED = "rejected"  # 400, 413, 415, 422: a body that can never be stored
UNAUTHORISED = "unauthorised"  # 401, 403: a missing or wrong token or secret
FAILED = "failed"  # 503: not stored (the database did not answer); the sender retries

# What Telegram answered a Bot API call (leadbot_telegram_calls_total's `result`).
OK = "ok"
FLOOD = "429"
SERVER_ERROR = "5xx"
CLIENT_ERROR = "4xx"
NETWORK = "network"  # no answer, or one that could not be read

# seconds: an intake answer is milliseconds; a busy database or a backlog, seconds
INTAKE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# a sweep is milliseconds; a daily run or a weekly report over a big base, seconds
JOB_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._sources: set[str] = set()
        self.leads_received = Counter(
            "leadbot_leads_received",
            "Leads that came to the HTTP intake (the API and the builders' hooks), by the "
            "lead's source and what the intake answered. A refused request is counted under "
            "the route it came to (api, tilda, cf7, elementor, vk, bitrix24): its body is not "
            "trusted to name one.",
            ["source", "answer"],
            registry=self.registry,
        )
        self.intake_seconds = Histogram(
            "leadbot_intake_request_duration_seconds",
            "Time from a request to the HTTP intake to its answer, by route.",
            ["route"],
            buckets=INTAKE_BUCKETS,
            registry=self.registry,
        )
        self.telegram_calls = Counter(
            "leadbot_telegram_calls",
            "Bot API requests (every attempt; a retried call counts each time), by method and "
            "result: ok, 429, 5xx, 4xx, network.",
            ["method", "result"],
            registry=self.registry,
        )
        self.job_seconds = Histogram(
            "leadbot_job_duration_seconds",
            "How long a scheduled job's run took: the sweeps (alert_sweep, offer_sweep, "
            "dialogue_sweep, outbox_sweep) and the reports (daily_job, weekly_job).",
            ["job"],
            buckets=JOB_BUCKETS,
            registry=self.registry,
        )
        self.report_seconds = Histogram(
            "leadbot_report_duration_seconds",
            "How long a report asked for on demand took to compute (api_summary: "
            "GET /api/v1/reports/summary).",
            ["report"],
            buckets=JOB_BUCKETS,
            registry=self.registry,
        )

    def source_label(self, source: str) -> str:
        if source in self._sources:
            return source
        if len(self._sources) >= MAX_SOURCES:
            return OTHER_SOURCE
        self._sources.add(source)
        return source

    def lead_received(self, source: str, answer: str) -> None:
        self.leads_received.labels(self.source_label(source), answer).inc()

    def telegram_call(self, method: str, result: str) -> None:
        self.telegram_calls.labels(method, result).inc()

    @contextmanager
    def timed_job(self, job: str) -> Iterator[None]:
        with _timed(self.job_seconds, job):
            yield

    @contextmanager
    def timed_report(self, report: str) -> Iterator[None]:
        with _timed(self.report_seconds, report):
            yield

    def register(self, collector: Collector) -> None:
        """A collector of values read when scraped (the database's state)."""
        self.registry.register(collector)


@contextmanager
def _timed(histogram: Histogram, label: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:  # a run that failed took its time too
        histogram.labels(label).observe(time.perf_counter() - started)
