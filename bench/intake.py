"""Intake benchmark: leads offered over HTTP to a real `leadbot run` process.

Runs leadbot (SQLite, one process) against the emulated Bot API served by this process,
a bare aiohttp endpoint as the ceiling, and the same endpoint validating with the intake's
typed models (what pydantic costs alone), all with the same load generator; prints a table:
- durable leads/s flat out (each counted when its 201 arrives, i.e. after the commit);
- p50/p99 of the HTTP answer at a fixed offered rate;
- p50/p99 from the HTTP answer to the card's sendMessage reaching the emulator;
- leadbot's rate as a share of the bare endpoint's (and the typed endpoint's), peak RSS.

    python -m bench.intake [--flat-out 4000] [--rate 500] [--card-rate 100] [--seconds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bot.devtools.emulator import TelegramEmulator

TOKEN = "123456789:AAHbench-token-for-the-emulator_0123456"
INTAKE_TOKEN = "bench-intake-token"
MANAGER = 1001
WARM_UP = 200  # leads posted before anything is timed
UNLIMITED_TELEGRAM = """
[telegram]
global_per_second = 100000
per_chat_per_second = 100000
per_chat_burst = 100000
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


@dataclass
class Run:
    accepted: int = 0
    failed: int = 0
    elapsed: float = 0.0
    latencies: list[float] = field(default_factory=list)
    answered_at: dict[int, float] = field(default_factory=dict)  # lead id -> monotonic time

    @property
    def rate(self) -> float:
        return self.accepted / self.elapsed if self.elapsed else 0.0


_n = 0


def lead_body() -> dict[str, str]:
    global _n
    _n += 1
    return {
        "name": f"Client {_n}",
        "phone": f"+7901{_n:07d}",
        "message": "bench lead",
        "source": "web_form",
    }


async def _post(http: aiohttp.ClientSession, url: str, run: Run) -> None:
    started = time.monotonic()
    try:
        async with http.post(url, json=lead_body()) as response:
            body = await response.json()
            done = time.monotonic()
            if response.status in (200, 201):
                run.accepted += 1
                run.latencies.append(done - started)
                run.answered_at[int(body["id"])] = done
            else:
                run.failed += 1
    except aiohttp.ClientError:
        run.failed += 1


async def flat_out(url: str, total: int, concurrency: int) -> Run:
    run = Run()
    headers = {"Authorization": f"Bearer {INTAKE_TOKEN}"}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:
        remaining = iter(range(total))

        async def worker() -> None:
            for _ in remaining:
                await _post(http, url, run)

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        run.elapsed = time.monotonic() - started
    return run


async def fixed_rate(url: str, rate: float, seconds: float) -> Run:
    run = Run()
    headers = {"Authorization": f"Bearer {INTAKE_TOKEN}"}
    connector = aiohttp.TCPConnector(limit=1000)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as http:
        tasks = []
        started = time.monotonic()
        for i in range(int(rate * seconds)):
            delay = started + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(_post(http, url, run)))
        await asyncio.gather(*tasks)
        run.elapsed = time.monotonic() - started
    return run


async def wait_http(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(url) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{url} did not come up")


def peak_rss_mib(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    return int(match.group(1)) / 1024 if match else float("nan")


async def card_delays(emulator: TelegramEmulator, run: Run, timeout: float = 30) -> list[float]:
    """Seconds from each lead's HTTP answer to its card's sendMessage reaching the emulator."""
    pattern = re.compile(r"#(\d+)")
    deadline = time.monotonic() + timeout
    seen: dict[int, float] = {}
    while time.monotonic() < deadline and len(seen) < len(run.answered_at):
        for request in emulator.requests:
            if request.method != "sendMessage" or request.status != 200:
                continue
            match = pattern.search(str(request.params.get("text", "")))
            if match and int(match.group(1)) in run.answered_at:
                seen.setdefault(int(match.group(1)), request.at)
        await asyncio.sleep(0.2)
    return [seen[lead] - answered for lead, answered in run.answered_at.items() if lead in seen]


@contextlib.asynccontextmanager
async def running_leadbot(
    workdir: Path, config_text: str
) -> AsyncIterator[tuple[str, TelegramEmulator, subprocess.Popen[bytes]]]:
    """A `leadbot run` process on a fresh SQLite file, one manager on duty, and its emulator."""
    emulator = TelegramEmulator(token=TOKEN)
    await emulator.start()
    emulator.add_user(MANAGER, "Anna")
    port = free_port()
    config = workdir / "bench.toml"
    config.parent.mkdir()
    config.write_text(config_text)
    env = {
        **os.environ,
        "BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE": emulator.base_url,
        "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'bench.db'}",
        "HTTP_PORT": str(port),
        "INTAKE_TOKEN": INTAKE_TOKEN,
        "LEADBOT_CONFIG": str(config),
        "LOG_LEVEL": "WARNING",
    }
    add_manager = ["staff", "add", str(MANAGER), "--role", "manager", "--name", "Anna"]
    subprocess.run(
        [sys.executable, "-m", "bot", *add_manager], env=env, check=True, capture_output=True
    )
    process = subprocess.Popen([sys.executable, "-m", "bot", "run"], env=env, cwd=workdir)
    try:
        base = f"http://127.0.0.1:{port}"
        await wait_http(f"{base}/healthz")
        await flat_out(f"{base}/api/v1/leads", WARM_UP, 16)
        yield f"{base}/api/v1/leads", emulator, process
    finally:
        process.terminate()
        process.wait(timeout=30)
        await emulator.stop()


async def bench_leadbot(args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    # Intake with Telegram's own limits, as in production: the notifier sends ~1 card/s to the
    # one manager while the backlog waits in the outbox table.
    async with running_leadbot(workdir / "intake", "") as (url, _, process):
        flat = await flat_out(url, args.flat_out, args.concurrency)
        paced = await fixed_rate(url, args.rate, args.seconds)
        rss = peak_rss_mib(process.pid)
    # Card latency needs more than Telegram's 1 message/s per chat: the limits are lifted here
    # (and the emulator enforces none), so the pipeline itself is timed.
    async with running_leadbot(workdir / "cards", UNLIMITED_TELEGRAM) as (url, emulator, _):
        # the warm-up's cards must be out before the clock starts
        await emulator.wait_for(lambda: len(emulator.calls("sendMessage")) >= WARM_UP, 60)
        carded = await fixed_rate(url, args.card_rate, args.seconds)
        delays = await card_delays(emulator, carded)
    return {
        "flat_rate": flat.rate,
        "flat_failed": flat.failed,
        "p50": percentile(paced.latencies, 50),
        "p99": percentile(paced.latencies, 99),
        "paced_failed": paced.failed,
        "paced_rate": paced.rate,
        "card_p50": percentile(delays, 50),
        "card_p99": percentile(delays, 99),
        "cards_seen": len(delays),
        "cards_expected": len(carded.answered_at),
        "rss": rss,
    }


async def bench_bare(args: argparse.Namespace, typed: bool = False) -> dict[str, float]:
    port = free_port()
    command = [sys.executable, "-m", "bench.bare_endpoint", str(port)]
    process = subprocess.Popen([*command, "--typed"] if typed else command)
    try:
        base = f"http://127.0.0.1:{port}"
        await wait_http(f"{base}/api/v1/leads")
        url = f"{base}/api/v1/leads"
        await flat_out(url, 200, 16)
        flat = await flat_out(url, args.flat_out, args.concurrency)
        paced = await fixed_rate(url, args.rate, args.seconds)
        return {
            "flat_rate": flat.rate,
            "p50": percentile(paced.latencies, 50),
            "p99": percentile(paced.latencies, 99),
            "rss": peak_rss_mib(process.pid),
        }
    finally:
        process.terminate()
        process.wait(timeout=30)


def table(
    lead: dict[str, float],
    bare: dict[str, float],
    typed: dict[str, float],
    args: argparse.Namespace,
) -> str:
    ms = 1000
    header = ("figure", "leadbot", "bare aiohttp", "bare + typed models", "target")
    rows = [
        (
            "durable leads/s, flat out",
            f"{lead['flat_rate']:.0f}",
            f"{bare['flat_rate']:.0f}",
            f"{typed['flat_rate']:.0f}",
            ">= 2000",
        ),
        (
            f"HTTP answer p50 at {args.rate:.0f}/s",
            f"{lead['p50'] * ms:.1f} ms",
            f"{bare['p50'] * ms:.1f} ms",
            f"{typed['p50'] * ms:.1f} ms",
            "",
        ),
        (
            f"HTTP answer p99 at {args.rate:.0f}/s",
            f"{lead['p99'] * ms:.1f} ms",
            f"{bare['p99'] * ms:.1f} ms",
            f"{typed['p99'] * ms:.1f} ms",
            "<= 50 ms",
        ),
        (
            f"answer -> sendMessage p50 at {args.card_rate:.0f}/s",
            f"{lead['card_p50'] * ms:.1f} ms",
            "-",
            "-",
            "",
        ),
        (
            f"answer -> sendMessage p99 at {args.card_rate:.0f}/s",
            f"{lead['card_p99'] * ms:.1f} ms",
            "-",
            "-",
            "<= 100 ms",
        ),
        (
            "leadbot / bare endpoint (flat out)",
            f"{lead['flat_rate'] / bare['flat_rate']:.2f}",
            "1.00",
            f"{typed['flat_rate'] / bare['flat_rate']:.2f}",
            "",
        ),
        (
            "peak RSS",
            f"{lead['rss']:.0f} MiB",
            f"{bare['rss']:.0f} MiB",
            f"{typed['rss']:.0f} MiB",
            "",
        ),
    ]
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        lines.append(
            "| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        )
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    notes = (
        f"errors: flat out {lead['flat_failed']:.0f}, paced {lead['paced_failed']:.0f}; "
        f"cards timed {lead['cards_seen']:.0f}/{lead['cards_expected']:.0f}"
    )
    return "\n".join(lines) + "\n" + notes


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flat-out", type=int, default=4000, help="leads sent flat out")
    parser.add_argument("--concurrency", type=int, default=256, help="clients flat out")
    parser.add_argument("--rate", type=float, default=500, help="offered leads/s for latency")
    parser.add_argument("--card-rate", type=float, default=100, help="leads/s for card timing")
    parser.add_argument("--seconds", type=float, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        lead = await bench_leadbot(args, Path(tmp))
    bare = await bench_bare(args)
    typed = await bench_bare(args, typed=True)
    print(table(lead, bare, typed, args))


if __name__ == "__main__":
    asyncio.run(main())
