"""Measures token counting: estimate error per content type, conversation counting cost, encoding load.

Samples come from files already on disk (Python stdlib, npm's own node_modules, licences, vim tutors);
nothing touches the network. Run: .venv/bin/python scripts/bench_tokens.py [--sample-bytes N] [--load-runs N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import sysconfig
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from kimchi_plugin.routing.tokens import ConversationTokens, TokenCounter, estimate_tokens

STDLIB = Path(sysconfig.get_paths()["stdlib"])
NODE_ROOTS = [
    Path("/usr/lib/node_modules"),
    Path("/usr/local/lib/node_modules"),
    Path(__file__).resolve().parent.parent / "node_modules",
]
MAX_FILE_BYTES = 100_000
CONVERSATION_TOKENS = 100_000
MESSAGE_CHARS = 6_000
TIMING_REPEATS = 7
CJK_LANGS = {"zh", "zh_cn", "zh_tw", "ja", "ko", "zh_CN", "zh_TW"}
EUROPEAN_LANGS = {"de", "fr", "es", "it", "ru", "el", "pl", "uk", "cs", "pt", "tr"}


def glob_all(roots: Iterable[Path], pattern: str) -> list[Path]:
    return [p for root in roots if root.is_dir() for p in sorted(root.glob(pattern))]


def read_until(paths: Iterable[Path], limit: int, transform: Callable[[str], str] = str) -> str:
    parts: list[str] = []
    size = 0
    for path in paths:
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                continue
            text = transform(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            continue
        parts.append(text)
        size += len(text.encode())
        if size >= limit:
            break
    return "\n".join(parts)


def lang_of(path: Path) -> str:
    return path.name.split(".")[1] if path.name.count(".") >= 2 else ""


def hook_payload(source: str) -> str:
    """A messages.transform-like JSON document wrapping real text (tool output inside JSON strings)."""
    parts = [
        {"id": f"prt_{i:04d}", "type": "tool" if i % 2 else "text", "text": source[i * 700 : (i + 1) * 700]}
        for i in range(len(source) // 700)
    ]
    return json.dumps(
        {"sessionID": "ses_bench", "messages": [{"info": {"role": "assistant"}, "parts": parts}]}, indent=1
    )


def samples(limit: int) -> dict[str, str]:
    vim_tutors = glob_all([Path("/usr/share/vim")], "vim*/tutor/tutor.*.utf-8")
    gnupg_help = glob_all([Path("/usr/share/gnupg")], "help.*.txt")
    found = {
        "prose (licences)": read_until(
            glob_all(NODE_ROOTS, "npm/node_modules/*/LICENSE*") + glob_all([Path("/usr/share/common-licenses")], "*"),
            limit,
        ),
        "markdown (READMEs)": read_until(glob_all(NODE_ROOTS, "npm/node_modules/*/README.md"), limit),
        "python (stdlib)": read_until(sorted(STDLIB.glob("*.py")), limit),
        "js (npm lib)": read_until(glob_all(NODE_ROOTS, "npm/lib/**/*.js"), limit),
        "json (package.json)": read_until(
            glob_all(NODE_ROOTS, "npm/node_modules/*/package.json"),
            limit,
            lambda t: json.dumps(json.loads(t), indent=2),
        ),
        "json (hook payload)": hook_payload(read_until(sorted(STDLIB.glob("*.py"))[::-1], limit // 2)),
        "cjk": read_until(
            sorted(STDLIB.glob("test/cjkencodings/*-utf8.txt"))
            + [p for p in vim_tutors + gnupg_help if lang_of(p) in CJK_LANGS],
            limit,
        ),
        "european languages": read_until([p for p in vim_tutors + gnupg_help if lang_of(p) in EUROPEAN_LANGS], limit),
    }
    return {name: text for name, text in found.items() if text}


def median_seconds(action: Callable[[], object], repeats: int = TIMING_REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def vm_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load_once() -> None:
    """Child mode: one fresh-process load, printed as JSON."""
    rss_before = vm_rss_mb()
    counter = TokenCounter()
    start = time.perf_counter()
    exact = counter.wait_until_loaded()
    elapsed = time.perf_counter() - start
    print(json.dumps({"load_s": elapsed, "exact": exact, "rss_before": rss_before, "rss_after": vm_rss_mb()}))


def report_load(runs: int) -> None:
    print(f"== 3. encoding load (fresh process each, {runs} runs)")
    results = [
        json.loads(
            subprocess.run([sys.executable, __file__, "--load-once"], check=True, capture_output=True, text=True).stdout
        )
        for _ in range(runs)
    ]
    assert all(r["exact"] for r in results), "encoding failed to load"
    load = statistics.median(r["load_s"] for r in results)
    before = statistics.median(r["rss_before"] for r in results)
    after = statistics.median(r["rss_after"] for r in results)
    print(
        f"load time (incl. import tiktoken) median {load * 1000:.0f} ms "
        f"(min {min(r['load_s'] for r in results) * 1000:.0f}, "
        f"max {max(r['load_s'] for r in results) * 1000:.0f})"
    )
    print(f"VmRSS before load {before:.1f} MB, after {after:.1f} MB (+{after - before:.1f} MB)\n")


def report_estimates(counter: TokenCounter, texts: dict[str, str]) -> None:
    print("== 1. estimate error vs exact o200k (signed, (estimate - exact) / exact)")
    print(
        f"{'content':22} {'KB':>6} {'tokens':>7} {'chars/tok':>9} {'ours':>7} {'bytes/4':>8} {'chars/4':>8}"
        f" {'ours µs':>8} {'exact µs':>8}"
    )
    for name, text in texts.items():
        exact = counter.count(text)
        size = len(text.encode())
        ours = (estimate_tokens(text) - exact) / exact
        by_bytes = (size / 4 - exact) / exact
        by_chars = (len(text) / 4 - exact) / exact
        t_est = median_seconds(lambda text=text: estimate_tokens(text)) * 1e6
        t_exact = median_seconds(lambda text=text: counter.count(text)) * 1e6
        print(
            f"{name:22} {size / 1000:6.1f} {exact:7d} {len(text) / exact:9.2f} {ours:+7.1%} {by_bytes:+8.1%} "
            f"{by_chars:+8.1%}"
            f" {t_est:8.0f} {t_exact:8.0f}"
        )
    chunk_errors = []
    for text in texts.values():
        for start in range(0, len(text), 2_000):
            chunk = text[start : start + 2_000]
            exact = counter.count(chunk)
            if exact >= 50:
                chunk_errors.append(abs(estimate_tokens(chunk) - exact) / exact)
    chunk_errors.sort()
    print(
        f"per 2,000-char chunk |error| of ours: median {statistics.median(chunk_errors):.1%}, "
        f"p90 {chunk_errors[int(len(chunk_errors) * 0.9)]:.1%}, max {chunk_errors[-1]:.1%} "
        f"over {len(chunk_errors)} chunks\n"
    )


def conversation(counter: TokenCounter, texts: dict[str, str]) -> list[tuple[str, str]]:
    pool = "\n".join(texts.values())
    messages: list[tuple[str, str]] = []
    tokens = 0
    offset = 0
    while tokens < CONVERSATION_TOKENS:
        text = pool[offset : offset + MESSAGE_CHARS] or pool[:MESSAGE_CHARS]
        offset = offset + MESSAGE_CHARS if offset + MESSAGE_CHARS < len(pool) else 0
        messages.append((f"msg_{len(messages):05d}:prt_a", f"[{len(messages)}] {text}"))
        tokens += counter.count(messages[-1][1])
    return messages


def report_conversation(counter: TokenCounter, texts: dict[str, str]) -> None:
    messages = conversation(counter, texts)
    history = messages[:-1]
    total = ConversationTokens(counter).total(messages)
    size = sum(len(t.encode()) for _, t in messages)
    print(f"== 2. conversation of {len(messages)} messages, {size / 1000:.0f} KB, {total} tokens incl. overhead")
    cold = median_seconds(lambda: ConversationTokens(counter).total(messages))

    def one_more_turn() -> None:
        conv = ConversationTokens(counter)
        conv.total(history)
        start = time.perf_counter()
        conv.total(messages)
        turn_times.append(time.perf_counter() - start)

    turn_times: list[float] = []
    for _ in range(TIMING_REPEATS):
        one_more_turn()
    warm = ConversationTokens(counter)
    warm.total(messages)
    unchanged = median_seconds(lambda: warm.total(messages))
    estimate_cold = median_seconds(lambda: sum(estimate_tokens(text) for _, text in messages))
    print(f"cold (every message counted)      {cold * 1000:8.2f} ms")
    print(f"incremental (one new message)     {statistics.median(turn_times) * 1000:8.2f} ms")
    print(f"nothing new (all cache hits)      {unchanged * 1000:8.2f} ms")
    print(f"estimate only, cold (while loading) {estimate_cold * 1000:6.2f} ms\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sample-bytes", type=int, default=100_000, help="target size of each content sample")
    parser.add_argument("--load-runs", type=int, default=5, help="fresh processes for the load measurement")
    parser.add_argument("--load-once", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load_once:
        load_once()
        return
    print(f"python {sys.version.split()[0]}, {sys.executable}\n")
    report_load(args.load_runs)
    counter = TokenCounter()
    counter.wait_until_loaded()
    texts = samples(args.sample_bytes)
    report_estimates(counter, texts)
    report_conversation(counter, texts)


if __name__ == "__main__":
    main()
