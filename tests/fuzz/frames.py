"""Hostile stdin frames for the real brain process, from a seed: malformed JSON, wrong types, deep nesting, huge
strings, invalid UTF-8, lone surrogates, NaN, extra and missing fields, batches, notifications, oversized lines.

`run` pipes them into one brain and checks what came back: every request with an id answered exactly once, every
undecodable frame answered, every reply well-formed, never an internal error, a clean exit, bounded memory.
"""

from __future__ import annotations

import json
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fuzz.payloads import METHODS, template
from tests.support.rpc_process import RpcProcess

HUGE_CHARS = (256 * 1024, 2 * 1024 * 1024)
DEEP_LEVELS = (200, 5000, 200_000)
PARSE_DEPTH_LIMIT = 900  # Python's json parser gives up (RecursionError) a little under 1000 levels
OVERSIZED_BYTES = 16 * 1024 * 1024 + 64
INTERNAL_ERROR = -32603
PARSE_ERROR = -32700
SENTINEL_ID = "fuzz-sentinel"
QUIET_S = 1.0  # after the sentinel, how long no reply may arrive before the count is final
REPLY_TIMEOUT_S = 60.0
WINDOW = 100  # frames sent before waiting for the brain to catch up
JUNK_KEYS = ["id", "jsonrpc", "method", "params", "input", "output", "sessionID", "parts", "text", "model", "x"]


@dataclass
class Frame:
    data: bytes
    ids: list[Any] = field(default_factory=list)  # ids that must each be answered once
    undecodable: int = 0  # replies owed without a usable id (parse errors, invalid UTF-8, oversized lines)
    lenient: list[Any] = field(default_factory=list)  # ids whose reply may be an internal error (see `exempt`)


def exempt(value: Any) -> list[Any]:
    """Ids of `initialize` requests for another protocol version: the brain refuses them with an internal error."""
    items = value if isinstance(value, list) else [value]
    return [
        item.get("id")
        for item in items
        if isinstance(item, dict)
        and item.get("method") == "initialize"
        and not (isinstance(item.get("params"), dict) and item["params"].get("protocolVersion") == 1)
    ]


def strict_json(value: Any) -> bool:
    """Whether `value` is plain JSON: NaN and infinities are not, so a peer may refuse the whole frame."""
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        return False
    return True


class FrameMaker:
    def __init__(self, seed: int, *, oversized: int = 1) -> None:
        self.rng = random.Random(seed)
        self.next_id = 0
        self.oversized_left = oversized

    def _id(self) -> int:
        self.next_id += 1
        return self.next_id

    def value(self, depth: int = 0) -> Any:
        rng = self.rng
        kind = rng.randrange(10 if depth < 3 else 7)
        if kind == 0:
            return None
        if kind == 1:
            return rng.choice([True, False])
        if kind == 2:
            return rng.choice([0, -1, 2**63, -(2**80), 7])
        if kind == 3:
            return rng.choice([0.5, -1e308, 1e-320, float("nan"), float("inf"), float("-inf")])
        if kind in (4, 5, 6):
            return rng.choice(
                [
                    "",
                    "x",
                    "kimchi",
                    "auto",
                    "/lock",
                    "\u0000",
                    "\ud800",
                    "\udfff",
                    "é" * 5,
                    "🍜",
                    "ses_fuzz",
                    "kimi-k2.5",
                    "text",
                    "tool",
                    "\u202e",
                ]
            )
        if kind == 7:
            return [self.value(depth + 1) for _ in range(rng.randrange(4))]
        return {rng.choice(JUNK_KEYS): self.value(depth + 1) for _ in range(rng.randrange(4))}

    def mutate(self, value: Any, depth: int = 0) -> Any:
        rng = self.rng
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                roll = rng.random()
                if roll < 0.1:
                    continue  # missing field
                if roll < 0.15:
                    out[rng.choice(JUNK_KEYS) + "_"] = item  # renamed field
                elif roll < 0.25:
                    out[key] = self.value()  # wrong type
                else:
                    out[key] = self.mutate(item, depth + 1) if depth < 8 else item
            if rng.random() < 0.3:
                out[f"future_{rng.randrange(99)}"] = self.value()  # extra field
            return out
        if isinstance(value, list):
            return [self.mutate(item, depth + 1) for item in value if rng.random() > 0.1]
        return value if rng.random() < 0.85 else self.value()

    def request(self, *, notify: bool = False) -> tuple[dict[str, Any], Any]:
        method = self.rng.choice(METHODS)
        params = self.mutate(template(method))
        if method == "initialize" and isinstance(params.get("options"), dict):
            params["options"].pop("apiKey", None)
            params["options"].pop("logFile", None)
            params["options"]["llmBaseUrl"] = "http://127.0.0.1:9/v1"
        frame: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "params": params}
        rpc_id = None
        if not notify:
            rpc_id = self._id()
            frame["id"] = rpc_id
        return frame, rpc_id

    def owing(self, value: Any, ids: list[Any]) -> Frame:
        """A frame of `value`: its request ids are owed, unless NaN makes it non-JSON (then nothing is owed)."""
        if strict_json(value):
            return Frame(self.dumps(value), ids, lenient=exempt(value))
        return Frame(self.dumps(value), lenient=ids)

    @staticmethod
    def dumps(value: Any) -> bytes:
        return json.dumps(value, allow_nan=True).encode("utf-8", "surrogatepass")

    def make(self) -> Frame:
        rng = self.rng
        roll = rng.randrange(100)
        if roll < 40:  # a plausible request of mutated shape
            frame, rpc_id = self.request()
            return self.owing(frame, [rpc_id])
        if roll < 45:  # notification: nothing owed
            frame, _ = self.request(notify=True)
            return Frame(self.dumps(frame))
        if roll < 55:  # malformed JSON: truncated, garbled or not JSON at all
            frame, _ = self.request()
            raw = self.dumps(frame)
            broken = rng.choice(
                [
                    raw[: rng.randrange(1, max(2, len(raw) - 1))],
                    raw.replace(b":", b"", 1),
                    b"{" * 3,
                    b"nope",
                    b"'single': 'quotes'",
                    b'{"jsonrpc": "2.0", "id": 1,}',
                    raw + b"}",
                ]
            )
            try:
                json.loads(broken)
            except ValueError:
                return Frame(broken, undecodable=1)
            return Frame(broken)  # still valid JSON by chance: owes whatever the dispatcher decides
        if roll < 60:  # invalid UTF-8 inside an otherwise fine frame
            frame, _ = self.request()
            raw = bytearray(self.dumps(frame))
            raw[rng.randrange(len(raw))] = rng.choice([0x80, 0xC3, 0xFF, 0xED])
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return Frame(bytes(raw), undecodable=1)
            return Frame(bytes(raw))
        if roll < 65:  # lone surrogates, NaN and infinities in valid-looking requests
            frame, rpc_id = self.request()
            frame["params"]["x"] = ["\ud83d", "\udc00x", float("nan"), float("-inf"), "\u0000"]
            return self.owing(frame, [rpc_id])
        if roll < 72:  # wrong types for the envelope itself
            rpc_id = self._id()
            frame = {
                "jsonrpc": rng.choice(["2.0", "1.0", 2, None]),
                "id": rpc_id,
                "method": rng.choice([7, None, "", "nope", "chat.message", ["x"]]),
                "params": rng.choice([[], [1, 2], "s", 3, None, {}]),
            }
            valid = (
                frame["jsonrpc"] == "2.0"
                and isinstance(frame["method"], str)
                and isinstance(frame["params"], (dict, list))
            )
            return Frame(self.dumps(frame), [rpc_id] if valid else [])
        if roll < 80:  # batch: requests, notifications and junk mixed (empty and nested ones too)
            items: list[Any] = []
            ids: list[Any] = []
            for _ in range(rng.randrange(0, 6)):
                choice = rng.randrange(4)
                if choice < 2:
                    frame, rpc_id = self.request()
                    items.append(frame)
                    ids.append(rpc_id)
                elif choice == 2:
                    items.append(self.request(notify=True)[0])
                else:
                    items.append(self.value())
            return self.owing(items, ids)
        if roll < 85:  # deep nesting, inside params or as the whole frame
            levels = rng.choice(DEEP_LEVELS)
            parses = levels < PARSE_DEPTH_LIMIT
            if rng.random() < 0.5:
                rpc_id = self._id()
                head = b'{"jsonrpc":"2.0","id":%d,"method":"chat.message","params":{"input":' % rpc_id
                data = head + b"[" * levels + b"]" * levels + b',"output":{}}}'
                return Frame(data, [rpc_id]) if parses else Frame(data, undecodable=1)
            return Frame(b"[" * levels + b"]" * levels, undecodable=0 if parses else 1)
        if roll < 90:  # a huge user message
            frame, rpc_id = self.request()
            frame["method"] = "chat.message"
            frame["params"] = template("chat.message")
            frame["params"]["output"]["parts"][0]["text"] = "why does it fail? " * (rng.choice(HUGE_CHARS) // 18)
            return Frame(self.dumps(frame), [rpc_id])
        if roll < 92 and self.oversized_left > 0:  # one line beyond the frame cap
            self.oversized_left -= 1
            rpc_id = self._id()
            head = b'{"jsonrpc":"2.0","id":%d,"method":"chat.message","params":{"input":"' % rpc_id
            return Frame(head + b"a" * OVERSIZED_BYTES + b'"}}', [rpc_id])
        if roll < 96:  # blank and whitespace lines: nothing owed
            return Frame(rng.choice([b"", b"   ", b"\t", b"\r"]))
        return Frame(
            bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64))).replace(b"\n", b" "), undecodable=-1
        )  # random bytes: owed a reply unless they happen to be blank


@dataclass
class Report:
    frames: int
    requests: int
    replies: int
    unanswered: list[Any]
    duplicated: list[Any]
    internal_errors: int
    exempt_internal_errors: int  # on non-JSON (NaN) frames and on `initialize` for another protocol version
    malformed_replies: int
    null_id_replies: int  # errors without an id, and parse errors (whose id is a guess from the raw bytes)
    undecodable: int
    rss_idle_mb: float
    rss_peak_mb: float
    rss_end_mb: float
    exit_code: int | None
    seconds: float

    def problems(self, rss_limit_mb: float) -> list[str]:
        found = []
        if self.unanswered:
            found.append(f"{len(self.unanswered)} requests unanswered, e.g. {self.unanswered[:5]}")
        if self.duplicated:
            found.append(f"answered twice: {self.duplicated[:5]}")
        if self.internal_errors:
            found.append(f"{self.internal_errors} internal errors")
        if self.malformed_replies:
            found.append(f"{self.malformed_replies} malformed replies")
        if self.null_id_replies < self.undecodable:
            found.append(f"{self.undecodable} undecodable frames, only {self.null_id_replies} null-id replies")
        if self.exit_code != 0:
            found.append(f"exit code {self.exit_code}")
        if self.rss_end_mb > rss_limit_mb:
            found.append(f"RSS {self.rss_end_mb:.0f} MB after the run (limit {rss_limit_mb:.0f} MB)")
        return found

    def account(self) -> str:
        """One line: what went in, what came back, memory and exit code."""
        return (
            f"{self.frames} frames in {self.seconds:.1f} s -> {self.replies} replies; "
            f"{self.requests} requests, {len(self.unanswered)} unanswered, {len(self.duplicated)} answered twice; "
            f"{self.undecodable} undecodable frames, {self.null_id_replies} null-id/parse-error replies; "
            f"internal errors {self.internal_errors} (+{self.exempt_internal_errors} exempt); "
            f"RSS idle {self.rss_idle_mb:.0f} MB, peak {self.rss_peak_mb:.0f} MB, end {self.rss_end_mb:.0f} MB; "
            f"exit {self.exit_code}"
        )


def _vm(pid: int, key: str) -> float:
    for row in Path(f"/proc/{pid}/status").read_text().splitlines():
        if row.startswith(key):
            return int(row.split()[1]) / 1024
    return 0.0


def _sentinel(tag: Any) -> bytes:
    return (
        json.dumps(
            {"jsonrpc": "2.0", "id": f"{SENTINEL_ID}-{tag}", "method": "tool.execute", "params": {"name": "none"}}
        ).encode()
        + b"\n"
    )


def run(home: Path, frames: int, seed: int, *, oversized: int = 1, window: int = WINDOW) -> Report:
    """Pipe `frames` hostile frames into a fresh brain and account for every reply. Frames go in chunks of `window`,
    each closed by a sentinel request whose reply releases the next chunk (OpenCode, too, waits for its hooks);
    `window=0` sends everything at once."""
    maker = FrameMaker(seed, oversized=oversized)
    brain = RpcProcess(home=home, env={"KIMCHI_LOG_LEVEL": "ERROR"})
    brain.initialize({"llmClassifier": False})
    config = template("config")
    brain.call("cfg", "config", config)
    time.sleep(0.5)
    idle = brain.rss_mb()
    owed: set[Any] = set()
    lenient: set[Any] = set()
    undecodable = 0
    started = time.monotonic()
    batch: list[Frame] = [maker.make() for _ in range(frames)]

    chunk = window or frames
    released = threading.Semaphore(1)

    def write() -> None:
        for start in range(0, frames, chunk):
            released.acquire()
            brain.send_raw(b"".join(item.data + b"\n" for item in batch[start : start + chunk]) + _sentinel(start))

    for item in batch:
        owed.update(i for i in item.ids if i is not None)
        lenient.update(item.lenient)
        if item.undecodable == -1:
            stripped = item.data.strip()
            if stripped:
                try:
                    json.loads(stripped.decode("utf-8"))
                except ValueError:
                    undecodable += 1
        else:
            undecodable += item.undecodable
    requests = len(owed)
    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    seen: dict[Any, int] = {}
    replies = internal = exempted = malformed = null_ids = 0
    peak = idle
    sentinels = 0
    chunks = -(-frames // chunk)
    while True:
        timeout = QUIET_S if sentinels == chunks else REPLY_TIMEOUT_S
        try:
            reply = brain.read_frame(timeout=timeout)
        except Exception:  # queue.Empty after the quiet period, or the brain died
            break
        peak = max(peak, _vm(brain.proc.pid, "VmRSS:"))
        for item in reply if isinstance(reply, list) else [reply]:
            replies += 1
            if not isinstance(item, dict) or item.get("jsonrpc") != "2.0" or ("result" in item) == ("error" in item):
                malformed += 1
                continue
            rpc_id = item.get("id")
            if "error" in item and item["error"].get("code") == INTERNAL_ERROR:
                if rpc_id in lenient:
                    exempted += 1
                else:
                    internal += 1
            if isinstance(rpc_id, str) and rpc_id.startswith(SENTINEL_ID):
                sentinels += 1
                released.release()
            elif rpc_id is None or item.get("error", {}).get("code") == PARSE_ERROR:
                null_ids += 1
            else:
                seen[rpc_id] = seen.get(rpc_id, 0) + 1
    writer.join(timeout=5)
    peak = max(peak, _vm(brain.proc.pid, "VmHWM:"))
    end = brain.rss_mb() if brain.proc.poll() is None else 0.0
    exit_code = brain.close() if brain.proc.poll() is None else brain.proc.returncode
    return Report(
        frames=frames,
        requests=requests,
        replies=replies,
        unanswered=sorted(owed - set(seen), key=str),
        duplicated=[i for i, n in seen.items() if n > 1],
        internal_errors=internal,
        exempt_internal_errors=exempted,
        malformed_replies=malformed,
        null_id_replies=null_ids,
        undecodable=undecodable,
        rss_idle_mb=idle,
        rss_peak_mb=peak,
        rss_end_mb=end,
        exit_code=exit_code,
        seconds=time.monotonic() - started,
    )
