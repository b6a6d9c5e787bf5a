"""The model catalogue's hard budgets against a real slow HTTP server on 127.0.0.1: a trickling server is cut at the
budget and then at the deadline, and a slow one still updates the cache in the background."""

from __future__ import annotations

import asyncio
import json
import time

from kimchi_plugin.provider.catalog import Source, cache_path, load_models
from tests.unit.test_model_catalog import API_KEY, BASE_URL, GOOD_BODY, T0, model_ids, seed_cache

BUDGET_S = 0.3
DEADLINE_S = 2.5  # far enough above the budget that a loaded machine cannot blur the two
SLACK_S = 2.5  # scheduling noise on a loaded 2-CPU machine
TIMER_EARLY_S = 0.01  # a timer may fire a hair before its time as the test's clock reads it


class SlowServer:
    """HTTP server on 127.0.0.1 that answers after `delay_s`, then trickles or sends the body."""

    def __init__(self, *, delay_s: float = 0.0, trickle: bool = False, body: bytes = b"") -> None:
        self.delay_s, self.trickle, self.body = delay_s, trickle, body
        self.connections: list[asyncio.Task] = []

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/openai/v1"

    async def __aexit__(self, *_exc) -> None:
        self.server.close()
        for task in self.connections:
            task.cancel()
        await asyncio.gather(*self.connections, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections.append(asyncio.current_task())
        try:
            await reader.readuntil(b"\r\n\r\n")
            await asyncio.sleep(self.delay_s)
            if self.trickle:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n")
                while True:  # one byte at a time, well inside any per-read timeout
                    writer.write(b" ")
                    await writer.drain()
                    await asyncio.sleep(0.05)
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                + f"Content-Length: {len(self.body)}\r\n\r\n".encode()
                + self.body
            )
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def test_trickling_server_is_cut_at_the_budget_and_then_at_the_deadline(tmp_path):
    seed_cache(tmp_path, fetched_at=T0 - 86400)

    async def scenario():
        async with SlowServer(trickle=True) as base_url:
            path = cache_path(base_url, tmp_path)
            path.write_text(cache_path(BASE_URL, tmp_path).read_text())
            started = time.perf_counter()
            result = await load_models(
                base_url,
                API_KEY,
                cache_dir=tmp_path,
                ttl_s=60,
                budget_s=BUDGET_S,
                deadline_s=DEADLINE_S,
                now=lambda: T0,
            )
            returned_after = time.perf_counter() - started
            assert result.refresh is not None and not result.refresh.done()
            later = await result.refresh
            return result, returned_after, later, time.perf_counter() - started

    result, returned_after, later, finished_after = asyncio.run(scenario())
    assert result.source is Source.STALE_CACHE and model_ids(result) == ["cached-model"]
    assert BUDGET_S - TIMER_EARLY_S <= returned_after < DEADLINE_S  # cut at the budget, not at the deadline
    assert later.source is Source.STALE_CACHE
    assert DEADLINE_S - TIMER_EARLY_S <= finished_after < DEADLINE_S + SLACK_S  # the trickle itself would never end


def test_slow_server_updates_the_cache_in_the_background(tmp_path):
    body = json.dumps(GOOD_BODY).encode()

    async def scenario():
        async with SlowServer(delay_s=0.4, body=body) as base_url:
            result = await load_models(base_url, API_KEY, cache_dir=tmp_path, budget_s=0.1, now=lambda: T0)
            assert result.source is Source.NONE and result.refresh is not None
            return base_url, await result.refresh

    base_url, refreshed = asyncio.run(scenario())
    assert refreshed.source is Source.NETWORK and model_ids(refreshed) == ["kimi-k2.5", "minimax-m2.7"]
    cached = asyncio.run(load_models(base_url, API_KEY, cache_dir=tmp_path, now=lambda: T0 + 1))
    assert (cached.source, model_ids(cached)) == (Source.CACHE, ["kimi-k2.5", "minimax-m2.7"])
