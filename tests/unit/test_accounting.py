"""Usage accounting: message dedup, cost and baselines, commit/PR detection, line counts and languages."""

from __future__ import annotations

import pytest

from kimchi_plugin.usage.languages import UNKNOWN_LANGUAGE, language_of
from kimchi_plugin.usage.ledger import SessionLedger
from kimchi_plugin.usage.payload import parse_assistant
from kimchi_plugin.usage.prices import ModelPrice, Prices, Usage, baselines, effective_cost
from kimchi_plugin.usage.tool_effects import (
    FileEdit,
    count_commits,
    count_pull_requests,
    diff_lines,
    line_count,
    parse_patch,
    tool_effects,
)

# Shapes as OpenCode 1.18.33 sends them (message.updated info, tool.execute.after input/output).
TRACE_INFO = {
    "id": "msg_213bb027b001WL4iSuTSBDTPCT",
    "parentID": "msg_213baf7f7001fK7gq0OyZD7Fqw",
    "role": "assistant",
    "mode": "build",
    "agent": "build",
    "path": {"cwd": "/tmp/project", "root": "/"},
    "cost": 0,
    "tokens": {"total": 62, "input": 55, "output": 7, "reasoning": 0, "cache": {"write": 0, "read": 0}},
    "modelID": "minimax-m2.7",
    "providerID": "kimchi",
    "time": {"created": 1795627352699, "completed": 1795627352827},
    "sessionID": "ses_dec450866ffeLHErrGYWpmt16l",
    "finish": "stop",
}


def info(**changes):
    out = {**TRACE_INFO, **changes}
    return out


def test_parse_assistant_reads_the_trace_shape():
    msg = parse_assistant(TRACE_INFO)
    assert msg is not None
    assert (msg.id, msg.session_id, msg.model, msg.provider, msg.agent) == (
        "msg_213bb027b001WL4iSuTSBDTPCT",
        "ses_dec450866ffeLHErrGYWpmt16l",
        "minimax-m2.7",
        "kimchi",
        "build",
    )
    assert msg.usage == Usage(input=55, output=7)
    assert msg.completed and msg.duration_ms == 128 and msg.finish == "stop" and msg.error is None


def test_parse_assistant_rejects_users_and_clamps_negatives():
    assert parse_assistant(info(role="user")) is None
    assert parse_assistant(info(id=None)) is None
    msg = parse_assistant(
        info(
            tokens={"input": -5, "output": 3.0, "cache": {"read": "x", "write": 4}},
            cost=-1,
            time={"created": 10},
            error={"name": "APIError", "data": {"message": "secret"}},
        )
    )
    assert msg.usage == Usage(input=0, output=3, cache_write=4, cost=0.0)
    assert not msg.completed and msg.duration_ms is None
    assert msg.error == "APIError"


def test_repeated_updates_replace_the_snapshot_never_double_count():
    ledger = SessionLedger("s")
    first = parse_assistant(info(tokens={"input": 10, "output": 0}, time={"created": 1}))
    final = parse_assistant(info(tokens={"input": 100, "output": 20, "cache": {"read": 5}}))
    assert ledger.apply(first, first.usage, "coding") == Usage(input=10)
    delta = ledger.apply(final, final.usage, "coding")
    assert delta == Usage(input=90, output=20, cache_read=5)
    ledger.apply(final, final.usage, "coding")  # the same update again
    assert ledger.total == Usage(input=100, output=20, cache_read=5)
    assert ledger.messages == 1
    assert ledger.messages_by_model == {"minimax-m2.7": 1}
    assert ledger.by_tier == {"coding": Usage(input=100, output=20, cache_read=5)}


def test_a_message_reattributed_moves_between_tiers():
    ledger = SessionLedger("s")
    msg = parse_assistant(TRACE_INFO)
    ledger.apply(msg, msg.usage, None)
    ledger.apply(msg, msg.usage, "reasoning")
    assert ledger.messages_by_tier == {"reasoning": 1}
    assert ledger.by_tier["reasoning"] == msg.usage
    assert ledger.by_tier["unrouted"].is_zero


def test_costs_and_baselines_by_hand():
    price = ModelPrice(input=0.3, output=1.2, cache_read=0.03, cache_write=0.375)
    usage = Usage(input=1_000_000, output=200_000, reasoning=50_000, cache_read=2_000_000, cache_write=100_000)
    # 0.3 + 0.25*1.2 + 2*0.03 + 0.1*0.375 = 0.3 + 0.3 + 0.06 + 0.0375
    assert price.cost(usage) == pytest.approx(0.6975)
    assert effective_cost(usage, price) == pytest.approx(0.6975)
    assert effective_cost(Usage(input=5, cost=0.5), price) == 0.5  # OpenCode's own figure wins
    assert effective_cost(usage, None) == 0.0
    prices = Prices({"big": ModelPrice(3, 15, 0.3, 3.75), "mid": ModelPrice(1, 4, 0.1, 1)}, "big", "mid")
    base = baselines(usage, prices)
    assert base.reasoning_model == "big" and base.reasoning_cost == pytest.approx(3 + 0.25 * 15 + 0.6 + 0.375)
    assert base.coding_model == "mid" and base.coding_cost == pytest.approx(1 + 0.25 * 4 + 0.2 + 0.1)
    assert baselines(usage, Prices({}, "gone", None)).reasoning_cost is None


@pytest.mark.parametrize(
    ("command", "commits"),
    [
        ("git commit -m 'fix bug'", 1),
        ("git add -A && git commit -am wip", 1),
        ("git -C sub commit -m x; git -c user.name=a commit -m y", 2),
        ("cd repo && (git commit -m 'a; b' && git push)", 1),
        ("GIT_AUTHOR_NAME=x git commit -m x", 1),
        ("git commit --amend --no-edit", 0),
        ('git commit -m "mention --amend in the message"', 1),
        ("git commit --dry-run", 0),
        ("git commit-tree abc", 0),
        ("echo git commit", 0),
        ("git status", 0),
        ("git log --grep commit", 0),
        ("git commit -m a\ngit commit --amend -m b\ngit commit -m c", 2),
    ],
)
def test_count_commits(command, commits):
    assert count_commits(command) == commits


@pytest.mark.parametrize(
    ("command", "prs"),
    [
        ("gh pr create --title t --body b", 1),
        ("git push -u origin x && gh pr create --fill", 1),
        ("gh pr create --web", 0),
        ("gh pr create --dry-run --fill", 0),
        ("gh pr list", 0),
        ("gh -R owner/repo pr create --fill", 1),
    ],
)
def test_count_pull_requests(command, prs):
    assert count_pull_requests(command) == prs


def bash(command, *, exit=0, output="", metadata=None):
    meta = {"output": output, "exit": exit, "truncated": False} if metadata is None else metadata
    return tool_effects("bash", {"command": command, "description": "d"}, output, meta)


def test_bash_commit_counts_only_on_success():
    assert bash("git commit -m x").commits == 1
    assert bash("git commit -m x", exit=1, output="nothing to commit, working tree clean").commits == 0
    assert bash("git commit -m x", exit=None).commits == 0  # killed / timed out
    assert bash("git commit --amend -m x").empty
    assert bash("printenv KIMCHI_SHELL_MARKER", output="1\n").empty  # the trace's bash call


def test_bash_without_exit_status_trusts_success_output_only():
    ok = "[main 1a2b3c4] fix bug\n 1 file changed, 1 insertion(+)\n"
    assert bash("git commit -m x", output=ok, metadata={}).commits == 1
    assert bash("git commit -m x", output="error: pathspec", metadata={}).commits == 0
    root = "[main (root-commit) 9f8e7d6] init\n"
    assert bash("git commit -m a && git commit -m b", output=root, metadata={}).commits == 1
    pr = "https://github.com/o/r/pull/12\n"
    assert bash("gh pr create --fill", output=pr, metadata={}).pull_requests == 1
    assert bash("gh pr create --fill", output="GraphQL: error", metadata={}).pull_requests == 0


def test_edit_prefers_opencode_diff_stats_and_falls_back_on_args():
    args = {"filePath": "/p/src/app.ts", "oldString": "a\nb\nc", "newString": "a\nB\nc\nd"}
    meta = {
        "diff": "...",
        "filediff": {"file": "/p/src/app.ts", "patch": "...", "additions": 7, "deletions": 3},
        "diagnostics": {},
    }
    assert tool_effects("edit", args, "Edit applied successfully.", meta).edits == (
        FileEdit("Edit", "/p/src/app.ts", "TypeScript", 7, 3),
    )
    assert tool_effects("edit", args, "", {}).edits == (FileEdit("Edit", "/p/src/app.ts", "TypeScript", 2, 1),)
    assert tool_effects("edit", {"filePath": "x.py"}, "", {}).empty


def test_write_counts_content_lines():
    effects = tool_effects(
        "write",
        {"filePath": "/p/main.py", "content": "a\nb\nc\n"},
        "Wrote file successfully.",
        {"diagnostics": {}, "filepath": "/p/main.py", "exists": False},
    )
    assert effects.edits == (FileEdit("Write", "/p/main.py", "Python", 3, 0),)
    assert tool_effects("write", {"filePath": "e.md", "content": ""}, "", {}).edits[0].added == 0


def test_apply_patch_per_file_from_metadata_or_patch_text():
    meta = {
        "diff": "...",
        "files": [
            {
                "filePath": "/p/a.go",
                "relativePath": "a.go",
                "type": "update",
                "patch": "",
                "additions": 2,
                "deletions": 1,
            },
            {
                "filePath": "/p/old.rs",
                "relativePath": "new.rs",
                "type": "move",
                "patch": "",
                "additions": 1,
                "deletions": 0,
                "movePath": "/p/new.rs",
            },
        ],
        "diagnostics": {},
    }
    assert tool_effects("apply_patch", {"patchText": "ignored"}, "Success.", meta).edits == (
        FileEdit("Patch", "/p/a.go", "Go", 2, 1),
        FileEdit("Patch", "/p/new.rs", "Rust", 1, 0),
    )
    patch = (
        "*** Begin Patch\n*** Add File: docs/x.md\n+# T\n+body\n*** Update File: src/y.py\n@@ def f\n"
        "-    return 1\n+    return 2\n+    # note\n*** End Patch"
    )
    assert tool_effects("apply_patch", {"patchText": patch}, "", {}).edits == (
        FileEdit("Patch", "docs/x.md", "Markdown", 2, 0),
        FileEdit("Patch", "src/y.py", "Python", 2, 1),
    )


def test_parse_patch_handles_moves_and_unified_diffs():
    assert parse_patch("*** Update File: a.ts\n*** Move to: b.ts\n@@\n-x\n--- sql comment\n+y\n") == [("b.ts", 1, 2)]
    unified = "diff --git a/x.c b/x.c\n--- a/x.c\n+++ b/x.c\n@@ -1 +1,2 @@\n-a\n+b\n+c\n"
    assert parse_patch(unified) == [("x.c", 2, 1)]


def test_multiedit_sums_its_edits_once():
    args = {
        "filePath": "k.kt",
        "edits": [{"oldString": "a", "newString": "a\nb"}, {"oldString": "c\nd", "newString": ""}],
    }
    assert tool_effects("multiedit", args, "", {}).edits == (FileEdit("MultiEdit", "k.kt", "Kotlin", 1, 2),)


def test_other_tools_have_no_effects():
    assert tool_effects("read", {"filePath": "x.py"}, "content", {}).empty
    assert tool_effects("bash", {"command": 5}, "", {}).empty


def test_ledger_accumulates_tool_effects():
    ledger = SessionLedger("s")
    ledger.apply_tool(bash("git commit -m x && gh pr create --fill"))
    ledger.apply_tool(tool_effects("write", {"filePath": "a.py", "content": "1\n2\n"}, "", {}))
    assert (ledger.commits, ledger.pull_requests, ledger.lines_added, ledger.lines_removed) == (1, 1, 2, 0)


@pytest.mark.parametrize(
    ("path", "language"),
    [
        ("a/b/c.tsx", "TypeScript"),
        ("x.MJS", "JavaScript"),
        ("setup.py", "Python"),
        ("Dockerfile", "Dockerfile"),
        ("build.dockerfile", "Dockerfile"),
        ("lib.hpp", "C++"),
        ("main.tf", "HCL"),
        ("conf.yml", "YAML"),
        (".bashrc", UNKNOWN_LANGUAGE),
        ("README", UNKNOWN_LANGUAGE),
        ("C:\\src\\Prog.cs", "C#"),
        ("", UNKNOWN_LANGUAGE),
    ],
)
def test_language_of(path, language):
    assert language_of(path) == language


def test_line_helpers():
    assert (line_count(""), line_count("a"), line_count("a\n"), line_count("a\nb")) == (0, 1, 1, 2)
    assert diff_lines("same", "same") == (0, 0)
    assert diff_lines("", "x\ny") == (2, 0)


def test_pinned_usage_gives_the_switched_request_the_cache_a_kept_model_would_have_had():
    from kimchi_plugin.usage.ledger import CACHE_TTL_MS, Request, pinned_usage

    before = Request("m1", "big", prompt=10_000, completed_ms=1_000)
    cold = Usage(input=3_000, cache_write=9_000, output=50, cost=0.1)
    # another model served m1: 10K of this 12K prompt would have been cache reads, taken from the writes first
    assert pinned_usage(cold, "small", 2_000, before) == Usage(input=2_000, cache_read=10_000, output=50, cost=0.1)
    assert pinned_usage(cold, "big", 2_000, before) == cold  # same model: billed as it was
    assert pinned_usage(cold, "small", 2_000, None) == cold  # first request of the session
    assert pinned_usage(Usage(input=5_000), "small", 2_000, before) == Usage(input=5_000)  # compacted: no prefix
    assert pinned_usage(cold, "small", 1_000 + CACHE_TTL_MS + 1, before) == cold  # the cache would have expired
    warm_part = Usage(input=4_000, cache_read=8_000)
    assert pinned_usage(warm_part, "small", 2_000, before) == Usage(input=2_000, cache_read=10_000)
