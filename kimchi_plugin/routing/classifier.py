"""Stage 1 of routing: a fast classifier over the user's own words.

Text becomes named features (word families, leading intent, pasted structure, the words, their stems and
word pairs, character pairs of Chinese and Japanese); a linear weight table (hand-set rules refined by
logistic regression on labelled messages and session turns, which also weighs the conversation stage's
context features) scores the six profiles, and the winning tier's probability, calibrated by the table's
temperature, is the confidence.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

from kimchi_plugin.routing.tiers import PROFILE_TIER, TIER_ORDER, Profile, Tier

P = Profile
_D, _R, _PL, _C, _RF, _A = P.DEBUGGER, P.REVIEWER, P.PLANNER, P.CODER, P.REFACTORER, P.ASSISTANT

# Giant pastes: only a bounded head and tail are read, so the cost stays flat.
HEAD_CHARS = 1500
TAIL_CHARS = 700
# Prose shorter than this with no evidence reads as chit-chat; longer as an unspecific work request.
SHORT_PROSE_CHARS = 40
LONG_PROSE_CHARS = 500
# Sending a Reasoning message to a lower tier costs this much more than the opposite mistake, so a
# Reasoning probability counts this many times when tiers are compared (it also settles near-ties).
REASONING_MISS_COST = 1.3
# Without any rule evidence, the trained words alone must be at least this sure to beat the default.
MODEL_ALONE_MIN = 0.7
CONFIDENCE_FLOOR = 0.05
CONFIDENCE_CEIL = 0.97
# Confidence of the no-evidence defaults.
DEFAULT_CONFIDENCE = 0.2
EMPTY_CONFIDENCE = 0.5
# Word features ("w:cache") exist for the trained table; the rules give no weight to single words.
WORD_PREFIX = "w:"
# Word pairs are read from this many leading words of the prose.
BIGRAM_TOKENS = 60
# How many of the strongest features a decision reports in `signals`.
MAX_SIGNALS = 4
# Words longer than this also count by their first STEM_CHARS letters ("migrat*" for migrate, migrating,
# migration), so that inflections and typos late in a word share the weight learnt for the family.
STEM_CHARS = 6
STEM_MAX_WORD_CHARS = 24
STEM_MARK = "*"
# Context features the conversation stage adds: "prev:coder", and the previous tier crossed with the
# message's form ("prev:coding+question").
PREV_PREFIX = "prev:"
CONTEXT_FORMS = ("question", "order")


@dataclass(frozen=True, slots=True)
class Classification:
    """A routing guess: profile, how sure, and the evidence behind it."""

    profile: Profile
    confidence: float
    signals: tuple[str, ...]
    source: str = "heuristic"

    @property
    def tier(self) -> Tier:
        return PROFILE_TIER[self.profile]


# --------------------------------------------------------------------------------------------------
# Lexicon: word → feature. Each feature counts once per message, whatever number of its words occur.


def _forms(stem: str, suffixes: str = "") -> tuple[str, ...]:
    """A word and its inflections: _forms("fail", "s ed ing") → fail, fails, failed, failing."""
    return (stem, *(stem + s for s in suffixes.split()))


_WORD_FAMILIES: dict[str, tuple[str, ...]] = {
    "debug:fail": (
        *_forms("fail", "s ed ing ure ures"),
        "broken",
        "breaks",
        "broke",
        "breaking",
        *_forms("crash", "es ed ing"),
        "hang",
        "hangs",
        "hanging",
        "hung",
        "freezes",
        "frozen",
        "stuck",
        "flaky",
        "flakes",
        "timeout",
        "timeouts",
        "deadlock",
        "deadlocks",
        "leak",
        "leaks",
        "leaking",
        "regression",
        "regressed",
        "segfault",
        "segfaults",
        "panic",
        "panics",
        "panicked",
        "oom",
        "wrong",
        "incorrect",
        "incorrectly",
        "unexpected",
        "unexpectedly",
        "weird",
        "strange",
        "randomly",
        "intermittent",
        "intermittently",
        "sporadically",
        "nan",
        "corrupted",
        "garbled",
        "hangs",
        "stopped",
        "errored",
        "erroring",
        "misbehaves",
        "reproduce",
        "repro",
        "flaking",
        "blank",
        "stalls",
        "stalled",
        "unresponsive",
        "flicker",
        "flickers",
        "flickering",
        "glitch",
        "glitches",
        "disappears",
        "disappeared",
        "vanishes",
        "mismatch",
        "inconsistent",
        "desync",
        "throttled",
        "evicted",
        "crashloopbackoff",
        "restarts",
        "restarting",
        "rejected",
        "refused",
        "denied",
        "forbidden",
        "unauthorized",
        "dies",
        "died",
        "bizarre",
        "mysterious",
        "stumped",
        "puzzled",
        "culprit",
        "regressions",
        "slowdown",
        "sluggish",
        "laggy",
        "ignored",
        "ignores",
        "succeeded",
        "exits",
        "exited",
        # es / fr / de / pt / ru
        "falla",
        "fallo",
        "roto",
        "échoue",
        "plante",
        "kaputt",
        "absturz",
        "stürzt",
        "funktioniert",
        "falha",
        "quebrado",
        "падает",
        "сломался",
        "сломалось",
        "не",
    ),
    "debug:error": (
        *_forms("error", "s"),
        *_forms("exception", "s"),
        "traceback",
        "stacktrace",
        "errno",
        "enoent",
        "econnrefused",
        "eaddrinuse",
        "sigsegv",
        "sigkill",
        "500",
        "502",
        "503",
        "undefined",
        "null",
        "erreur",
        "fehler",
        "erro",
        "ошибка",
        "ошибку",
        "ошибки",
    ),
    "debug:negation": (
        "doesn't",
        "doesnt",
        "isn't",
        "won't",
        "wont",
        "can't",
        "cannot",
        "didn't",
        "never",
        "aren't",
        "wasn't",
        "weren't",
    ),
    "debug:symptom": (
        "keeps",
        "kept",
        "dropped",
        "drops",
        "spiked",
        "spikes",
        "spiking",
        "climbing",
        "climbs",
        "growing",
        "slower",
        "slow",
        "slowly",
        "stale",
        "empty",
        "silently",
        "sometimes",
        "occasionally",
        "suddenly",
        "oomkilled",
        "killed",
        "skips",
        "skipped",
        "duplicates",
        "lag",
        "latency",
        "p99",
        "rss",
        "heap",
        "profiler",
        "pprof",
        "flamegraph",
        "404",
        "401",
        "403",
        "nothing",
        "twice",
        "doubled",
        "suspect",
        "profiling",
        "spinning",
        "growing",
        "grows",
        "balloons",
        "lost",
        "losing",
        "loses",
        "happens",
        "happening",
        "occurs",
        "hata",
        "neden",
        "błąd",
        "errore",
        "fout",
    ),
    "debug:context": (
        "only",
        "locally",
        "prod",
        "production",
        "actually",
        "started",
        "since",
        "expected",
        "actual",
        "instead",
        "though",
        "although",
        "whereas",
        "returns",
        "shows",
        "served",
        "memory",
        "cpu",
        "missing",
    ),
    "debug:verb": (
        "debug",
        "debugging",
        "debugged",
        "diagnose",
        "diagnosing",
        "troubleshoot",
        "troubleshooting",
        "bisect",
        "depurar",
        "débugger",
        "déboguer",
        "отладь",
        "отладить",
    ),
    "debug:bug": ("bug", "bugs", "buggy", "bogue", "баг"),
    "debug:still": ("still", "anymore", "again", "todavía", "toujours", "immer", "noch", "всё", "опять"),
    "reason:investigate": ("investigate", "investigating", "understand", "figure"),
    "review:verb": (
        *_forms("review", "s ed ing er"),
        "audit",
        "audits",
        "auditing",
        "critique",
        "proofread",
        "feedback",
        "lgtm",
        "nitpick",
        "nitpicks",
        "nits",
        "revisa",
        "revisar",
        "relis",
        "relire",
        "revue",
        "überprüfe",
        "prüfe",
        "ревью",
        "проверь",
    ),
    "review:change": ("pr", "prs", "diff", "diffs", "patch", "changeset", "changes", "commit", "commits"),
    "review:security": (
        "security",
        "secure",
        "insecure",
        "vulnerable",
        "vulnerability",
        "vulnerabilities",
        "injection",
        "xss",
        "csrf",
        "ssrf",
        "owasp",
        "cve",
        "exploit",
        "exploitable",
        "pentest",
        "attacker",
        "sanitized",
        "unsanitized",
        "escalation",
        "leaked",
        "safe",
        "unsafe",
        "safely",
        "threat",
        "unauthenticated",
        "permissive",
        "cors",
        "crypto",
        "hashing",
        "password",
        "passwords",
        "tamper",
        "redirect",
        "auth",
        "authorization",
        "permissions",
        "tokens",
        "secrets",
        "correctly",
        "properly",
        "idor",
        "redos",
        "hardcoded",
        "thread",
        "race",
        "merge",
        "merging",
        "ship",
        "approve",
        "realistically",
    ),
    "plan:design": (
        "plan",
        "plans",
        "planning",
        "design",
        "designing",
        "architect",
        "architecture",
        "architectural",
        "roadmap",
        "strategy",
        "approach",
        "approaches",
        "proposal",
        "propose",
        "rfc",
        "brainstorm",
        "blueprint",
        "phases",
        "milestones",
        "diseño",
        "diseña",
        "planifica",
        "conception",
        "entwurf",
        "planen",
        "архитектура",
        "спроектируй",
        "arquitectura",
        "architettura",
        "mvp",
        "tickets",
        "structure",
        "organize",
        "organise",
        "granularity",
        "runbook",
        "pyramid",
        "sensible",
        "cleanest",
        "adr",
        "epic",
        "backlog",
        "prioritize",
        "prioritise",
        "priorities",
        "estimate",
        "estimates",
        "timeline",
        "viable",
        "feasible",
        "feasibility",
        "maintainable",
        "extensible",
        "invasive",
        "thinking",
        "considering",
        "ideas",
        "thoughts",
        "boundaries",
        "domain",
        "cqrs",
        "sourcing",
        "failover",
        "sla",
        "slo",
        "capacity",
        "budget",
        "replatform",
        "roadmap",
        "sizes",
        "sizing",
    ),
    "plan:tradeoff": (
        "tradeoff",
        "tradeoffs",
        "trade",
        "pros",
        "cons",
        "alternative",
        "alternatives",
        "options",
        "versus",
        "vs",
        "compare",
        "comparing",
        "comparison",
        "decide",
        "decision",
        "choose",
        "choosing",
        "recommend",
        "recommendation",
        "worth",
        "better",
        "prefer",
        "evaluate",
        "evaluating",
        "assess",
        "weigh",
        "either",
        "overkill",
        "mejor",
        "stack",
        "should",
        "pick",
        "vendor",
        "buy",
        "build",
        "instead",
        "whether",
        "favor",
        "favour",
    ),
    "plan:system": (
        "scale",
        "scalable",
        "scalability",
        "scaling",
        "availability",
        "consistency",
        "sharding",
        "shard",
        "partitioning",
        "distributed",
        "microservice",
        "microservices",
        "monolith",
        "multi",
        "tenant",
        "tenancy",
        "eventual",
        "infrastructure",
        "migration",
        "migrate",
        "migrating",
        "zero",
        "downtime",
        "rollout",
        "backwards",
        "compatibility",
        "long",
        "future",
    ),
    "plan:risk": (
        "risk",
        "risks",
        "risky",
        "implications",
        "implication",
        "consequences",
        "constraints",
        "requirements",
        "concerns",
        "impact",
        "bottleneck",
        "bottlenecks",
    ),
    "code:verb": (
        "add",
        "adding",
        "implement",
        "implementing",
        "create",
        "write",
        "build",
        "make",
        "generate",
        "scaffold",
        "wire",
        "hook",
        "integrate",
        "setup",
        "configure",
        "install",
        "update",
        "change",
        "modify",
        "edit",
        "replace",
        "bump",
        "upgrade",
        "fix",
        "support",
        "port",
        "convert",
        "translate",
        "remove",
        "delete",
        "drop",
        "enable",
        "disable",
        "expose",
        "handle",
        "allow",
        "append",
        "insert",
        "include",
        "switch",
        "persist",
        "validate",
        "parse",
        "serialize",
        "paginate",
        "return",
        "emit",
        "set",
        "put",
        "use",
        "ensure",
        "format",
        "log",
        "print",
        "render",
        "show",
        "hide",
        "añade",
        "agrega",
        "crea",
        "escribe",
        "implementa",
        "arregla",
        "corrige",
        "ajoute",
        "crée",
        "écris",
        "implémente",
        "corriger",
        "füge",
        "erstelle",
        "schreibe",
        "implementiere",
        "behebe",
        "adicione",
        "crie",
        "escreva",
        "corrija",
        "добавь",
        "создай",
        "напиши",
        "исправь",
        "реализуй",
    ),
    "code:object": (
        "function",
        "functions",
        "method",
        "methods",
        "class",
        "endpoint",
        "endpoints",
        "route",
        "routes",
        "handler",
        "middleware",
        "component",
        "components",
        "test",
        "tests",
        "fixture",
        "fixtures",
        "script",
        "cli",
        "flag",
        "option",
        "argument",
        "arguments",
        "param",
        "parameter",
        "field",
        "fields",
        "column",
        "table",
        "schema",
        "model",
        "api",
        "button",
        "page",
        "form",
        "modal",
        "config",
        "env",
        "variable",
        "feature",
        "validation",
        "logging",
        "retry",
        "retries",
        "pagination",
        "dockerfile",
        "workflow",
        "pipeline",
        "type",
        "types",
        "interface",
        "struct",
        "enum",
        "query",
        "decorator",
        "cron",
        "webhook",
        "dropdown",
        "toggle",
        "spinner",
        "banner",
        "tooltip",
        "header",
        "footer",
        "command",
        "subcommand",
        "unit",
        "snapshot",
        "mock",
        "stub",
        "hook",
        "hooks",
        "helper",
        "util",
        "utils",
        "wrapper",
        "client",
        "sdk",
        "docstring",
        "docstrings",
        "comments",
        "readme",
        "changelog",
        "typescript",
        "python",
        "rust",
        "golang",
        "javascript",
        "sql",
        "css",
        "html",
        "yaml",
        "json",
        "toml",
        "regex",
        "tokens",
    ),
    "refactor:verb": (
        "refactor",
        "refactoring",
        "refactored",
        "restructure",
        "reorganize",
        "reorganise",
        "cleanup",
        "tidy",
        "simplify",
        "extract",
        "inline",
        "rename",
        "dedupe",
        "deduplicate",
        "dedup",
        "dry",
        "decouple",
        "modularize",
        "modularise",
        "consolidate",
        "readability",
        "readable",
        "smell",
        "smells",
        "debt",
        "duplication",
        "duplicated",
        "duplicate",
        "nesting",
        "untangle",
        "flatten",
        "split",
        "legacy",
        "idiomatic",
        "refactoriza",
        "refactorizar",
        "refactoriser",
        "umstrukturieren",
        "рефакторинг",
        "отрефактори",
    ),
    "refactor:structure": (
        "duplication",
        "duplicated",
        "duplicate",
        "copy",
        "pasted",
        "repeated",
        "repeats",
        "repeat",
        "magic",
        "constants",
        "pure",
        "pattern",
        "generics",
        "unreadable",
        "nested",
        "smaller",
        "focused",
        "separate",
        "reusable",
        "reuse",
        "factor",
        "parametrized",
        "parameterized",
        "dispatch",
        "chains",
        "callbacks",
        "async",
        "await",
        "records",
        "composite",
        "builder",
        "god",
        "mixin",
        "abstraction",
        "everywhere",
        "across",
        "throughout",
        "remaining",
        "callers",
        "wydziel",
        "renomme",
        "renommer",
        "分割",
        "dead",
        "unused",
        "modernize",
        "generalize",
        "abstract",
        "maintainability",
        "names",
        "naming",
        "missed",
    ),
    "refactor:keep": (
        "behaviour",
        "behavior",
        "identical",
        "unchanged",
        "equivalent",
        "preserve",
        "preserving",
        "zachowania",
        "comportement",
        "verhalten",
        "動作",
    ),
    "assist:lookup": (
        "find",
        "search",
        "locate",
        "grep",
        "list",
        "look",
        "where",
        "which",
        "whereabouts",
        "lookup",
        "count",
        "version",
        "located",
        "defined",
        "dónde",
        "donde",
        "où",
        "wo",
        "onde",
        "где",
        "syntax",
        "shortcut",
        "alias",
        "default",
        "docs",
        "documentation",
        "link",
        "stand",
        "acronym",
        "abbreviation",
        "remind",
        "who",
        "when",
    ),
    "assist:explain": (
        "explain",
        "describe",
        "summarize",
        "summarise",
        "summary",
        "tldr",
        "tl",
        "meaning",
        "mean",
        "means",
        "eli5",
        "overview",
        "what's",
        "whats",
        "purpose",
        "difference",
        "explica",
        "explique",
        "erkläre",
        "объясни",
    ),
    "assist:thanks": (
        "thanks",
        "thank",
        "thx",
        "ty",
        "cheers",
        "hi",
        "hello",
        "bye",
        "brb",
        "gracias",
        "merci",
        "danke",
        "obrigado",
        "спасибо",
        "grazie",
        "dzięki",
        "dank",
        "teşekkürler",
        "lunch",
        "afk",
        "bbl",
        "lol",
        "haha",
    ),
    "assist:ack": (
        "ok",
        "okay",
        "cool",
        "great",
        "nice",
        "yes",
        "no",
        "yep",
        "nope",
        "sure",
        "perfect",
        "awesome",
        "sweet",
    ),
    "assist:quick": ("quick", "quickly", "brief", "briefly", "short", "simple", "just", "remind"),
}

_LEXICON: dict[str, tuple[str, ...]] = {}
for _feature, _words in _WORD_FAMILIES.items():
    for _word in _words:
        _LEXICON[_word] = (*_LEXICON.get(_word, ()), _feature)

# Word pairs whose meaning differs from their head word: "error handling" and "debug flag" are coding
# objects, "fail fast" is a concept. The pair's feature replaces both words' families.
_PAIR_HEADS: dict[str, tuple[frozenset[str], str]] = {
    "error": (
        frozenset(
            ["handling", "handler", "handlers", "message", "messages", "boundary", "boundaries", "page", "pages", "code", "codes", "class", "type", "types", "state", "states", "reporting", "log", "logs", "toast", "banner", "response", "responses"]
        ),
        "code:adjunct",
    ),
    "errors": (frozenset(["handling", "page", "pages"]), "code:adjunct"),
    "debug": (
        frozenset(
            ["logging", "logs", "log", "flag", "flags", "mode", "build", "builds", "level", "output", "print", "prints", "statement", "statements", "toolbar", "panel", "endpoint", "option", "setting", "info", "env", "variable", "message", "messages"]
        ),
        "code:adjunct",
    ),
    "design": (frozenset(["tokens", "token", "system", "doc", "docs", "spec", "mockup", "mockups", "figma"]), "code:adjunct"),
    "crash": (frozenset(["reporting", "reporter", "reports", "analytics"]), "code:adjunct"),
    "bug": (frozenset(["report", "reports", "template", "tracker"]), "code:adjunct"),
    "refactor": (frozenset(["button", "menu", "command", "action"]), "code:adjunct"),
    "review": (frozenset(["comments", "comment", "app", "apps"]), "code:adjunct"),
    "security": (frozenset(["headers", "header", "policy", "txt"]), "code:adjunct"),
    "fail": (frozenset(["fast", "safe"]), "assist:concept"),
    "dependency": (frozenset(("injection",)), "refactor:structure"),
    "constructor": (frozenset(("injection",)), "refactor:structure"),
}

# Multi-word evidence, matched on adjacent tokens.
_PHRASES: dict[str, str] = {
    "stack trace": "debug:error",
    "root cause": "debug:verb",
    "track down": "debug:verb",
    "not working": "debug:fail",
    "going on": "debug:what_wrong",
    "what's wrong": "debug:what_wrong",
    "what happened": "debug:what_wrong",
    "no idea": "debug:what_wrong",
    "could cause": "debug:what_wrong",
    "what's causing": "debug:what_wrong",
    "whats causing": "debug:what_wrong",
    "what causes": "debug:what_wrong",
    "what caused": "debug:what_wrong",
    "is causing": "debug:what_wrong",
    # A recurring symptom: "we keep getting paged", "I keep seeing 502s".
    "keep getting": "debug:symptom",
    "keep seeing": "debug:symptom",
    "keep hitting": "debug:symptom",
    "keep losing": "debug:symptom",
    "keep failing": "debug:fail",
    "might cause": "debug:what_wrong",
    "is happening": "debug:what_wrong",
    "went from": "debug:symptom",
    "stopped working": "debug:fail",
    "times out": "debug:fail",
    "off by": "debug:fail",
    "memory leak": "debug:fail",
    "race condition": "debug:fail",
    "infinite loop": "debug:fail",
    "null pointer": "debug:error",
    "no longer": "debug:fail",
    "code review": "review:verb",
    "look over": "review:verb",
    "sanity check": "review:verb",
    "second opinion": "review:verb",
    "double check": "review:verb",
    "pull request": "review:change",
    "merge request": "review:change",
    "red flags": "review:verb",
    "edge cases": "review:quality",
    "high level": "plan:design",
    "think through": "plan:design",
    "step back": "plan:design",
    "should we": "plan:should",
    "should i": "plan:should",
    "how should": "plan:should",
    "how would": "plan:should",
    "best way": "plan:should",
    "make sense": "plan:should",
    "clean up": "refactor:verb",
    "break up": "refactor:verb",
    "pull out": "refactor:verb",
    "move the": "refactor:move",
    "tech debt": "refactor:verb",
    "error handling": "code:object",
    "show me": "assist:lookup",
    "look up": "assist:lookup",
    "how many": "assist:lookup",
    "is there": "assist:lookup",
    "do we": "assist:lookup",
    "tell me": "assist:explain",
    "walk me": "assist:explain",
    "what does": "assist:explain",
    "what is": "assist:explain",
    "what are": "assist:explain",
    "got it": "assist:ack",
    "sounds good": "assist:ack",
    "por qué": "reason:why",
    "por que": "reason:why",
}

# The first words of a sentence that state its intent ("add …", "why does …", "where is …").
_LEAD_WORDS: dict[str, str] = {}
for _feature, _words in {
    "lead:code": (
        *_WORD_FAMILIES["code:verb"],
        *(
            "allow append apply attach bump cache call clamp clear collapse combine comment commit compute "
            "connect copy debounce default define deploy display dump emit encode decode escape exec expand "
            "export extend fetch fill filter flag flip force gate group guard hook ignore import increase "
            "decrease raise lower inject insert keep kill launch limit link load lock make map mark memoize "
            "migrate mock mute normalize open order pad paginate pass pin poll populate prefix prefetch prune "
            "publish pull push queue rebase recompute reject reload reorder reset resize restore restrict "
            "retry rewrite rotate round route run save scale schedule scroll seed send serve shrink silence "
            "skip sort squash start stop store strip stub style submit swap sync tag test throttle throw "
            "toggle track trim truncate turn unify unpin upload wait wrap zip attach bind cap drop exclude "
            "sanitize hardcode stream mount unmount wire rerun retest regenerate rebuild redeploy release "
            "pin tweak adjust increase lengthen shorten rename "
            # common imperatives of other languages
            "sube añade agrega crea haz cambia quita elimina pon usa ajoute mets supprime modifie füge ändere "
            "entferne setze erstelle adicione mude remova coloque aggiungi rimuovi metti dodaj zmień usuń "
            "добавь измени удали сделай ekle değiştir sil voeg verander verwijder maak"
        ).split(),
    ),
    "lead:refactor": (
        "refactor",
        "restructure",
        "reorganize",
        "reorganise",
        "simplify",
        "extract",
        "inline",
        "rename",
        "dedupe",
        "deduplicate",
        "decouple",
        "modularize",
        "consolidate",
        "split",
        "move",
        "tidy",
        "cleanup",
        "untangle",
        "flatten",
        "refactoriza",
        "refactorizar",
        "отрефактори",
    ),
    "lead:review": ("review", "audit", "critique", "proofread", "revisa", "relis", "überprüfe", "prüfe"),
    "lead:debug": ("debug", "diagnose", "troubleshoot", "investigate", "bisect"),
    "lead:plan": (
        "plan",
        "design",
        "architect",
        "propose",
        "brainstorm",
        "outline",
        "compare",
        "evaluate",
        "assess",
        "think",
        "consider",
        "weigh",
        "planifica",
        "diseña",
    ),
    "lead:explain": (
        "explain",
        "describe",
        "summarize",
        "summarise",
        "tldr",
        "explica",
        "explique",
        "erkläre",
        "объясни",
    ),
    "lead:lookup": (
        "find",
        "search",
        "locate",
        "grep",
        "list",
        "show",
        "where",
        "which",
        "count",
        "lookup",
        "dónde",
        "donde",
        "où",
        "wo",
        "где",
    ),
    "lead:why": ("why", "pourquoi", "warum", "почему", "porque"),
    "lead:should": ("should", "shall"),
    "lead:what": ("what", "what's", "whats", "qué", "que", "was", "что"),
    "lead:how": ("how", "cómo", "comment", "wie", "как"),
    "lead:yesno": ("is", "are", "does", "do", "did", "can", "could", "has", "have", "was", "were"),
}.items():
    for _word in _words:
        _LEAD_WORDS.setdefault(_word, _feature)

# Typo tolerance for words of at least this length: one missing, extra or swapped letter.
TYPO_MIN_CHARS = 5
_KNOWN_WORDS = frozenset(_LEXICON) | frozenset(_LEAD_WORDS)
_BY_DELETION: dict[str, str | None] = {}
for _word in _KNOWN_WORDS:
    if len(_word) >= TYPO_MIN_CHARS and _word.isascii():
        for _i in range(len(_word)):
            _short = _word[:_i] + _word[_i + 1 :]
            _BY_DELETION[_short] = _word if _BY_DELETION.get(_short, _word) == _word else None


def _spelled(token: str) -> str:
    """The known word a misspelt token stands for ("eror" → "error"), else the token itself."""
    if len(token) < TYPO_MIN_CHARS or token in _KNOWN_WORDS or not token.isascii():
        return token
    missing = _BY_DELETION.get(token)
    if missing is not None:
        return missing
    for i in range(len(token)):
        candidate = token[:i] + token[i + 1 :]
        if candidate in _KNOWN_WORDS and len(candidate) >= TYPO_MIN_CHARS:
            return candidate
        if i + 1 < len(token):
            swapped = token[:i] + token[i + 1] + token[i] + token[i + 2 :]
            if swapped in _KNOWN_WORDS:
                return swapped
    return token


# Openers skipped before the intent word: "please", "can you", "hey, could you quickly" …
_OPENERS = frozenset(
    ["please", "pls", "plz", "can", "could", "would", "will", "you", "u", "hey", "hi", "ok", "okay", "so", "now", "then", "also", "and", "but", "first", "next", "quickly", "just", "i", "we", "i'd", "we'd", "want", "need", "like", "to", "let's", "lets", "let", "us", "help", "me", "go", "ahead", "kindly", "maybe", "alright", "right", "sure", "yes", "yeah", "great", "thanks"]
)
# Openers that would otherwise be read as lead words ("can you …", "could you …").
_MODAL_OPENERS = frozenset(["can", "could", "would", "will"])
# Leads that give an order; words after one that make it the subject of a statement instead.
_ORDER_LEADS = frozenset(["lead:code", "lead:refactor", "lead:review", "lead:debug", "lead:plan", "lead:explain"])
_STATEMENT_FOLLOWERS = frozenset(
    ["is", "are", "was", "were", "has", "have", "had", "keeps", "kept", "shows", "showed", "fails", "failed", "passes", "passed", "returns", "returned", "doesn't", "isn't", "won't", "didn't", "wasn't", "works", "worked", "looks"]
)
# Two-word openings whose intent differs from their first word's: "show me" and "give me" ask for an
# answer, "write up" asks for prose about the subject (a review, a plan), not for code.
_LEAD_PAIRS: dict[tuple[str, str], str | None] = {
    ("show", "me"): "lead:lookup",
    ("give", "me"): "lead:lookup",
    ("tell", "me"): "lead:explain",
    ("write", "up"): None,
}

# Word beginnings in other languages (and English stems): a token not in the lexicon is looked up by
# its first STEM_LENGTHS characters. Inflections ("refactoriza", "implementiere", "исправьте") then match.
STEM_LENGTHS = (4, 5, 6, 7)
_STEMS: dict[str, str] = {}
for _feature, _prefixes in {
    "refactor:verb": "refactor refaktor рефактор renombr renomm umbenenn rinomin переимен hernoem extrae "
    "extrahier estrai wydziel вынес vereinfach semplific simplifi uprość упрост",
    "refactor:keep": "comportami comportame comportem verhalten zachowan поведени davranış gedrag",
    "code:verb": "añad agreg adicion ajout hinzu aggiung dodaj добав voeg crea crie erstell utwórz созда "
    "oluştur escrib escrev écri schreib scriv napisz напиш schrijf arregl corrig corrij behebe "
    "repar napraw исправ düzelt herstel implementa implementi implementu реализ ekle hazlo "
    "sube cambia ändere zmień измени wijzig anleg ersetz entfern lösch déclar supprim elimin borra "
    "muév mueve quita",
    "review:verb": "revisa revisar revise relir relis überprüf prüf rivedi przejrz sprawdź провер посмотр "
    "incele bekijk kontrol",
    "review:security": "segur sicher sécur sicurezz bezpiecz безопас güvenl vulnera уязвим",
    "plan:design": "arquitect architekt architet архитект diseñ entwer entwurf conceb concev progett "
    "planej planif planung",
    "plan:tradeoff": "mejor melhor meilleur besser beste migliore lepsz лучш deberíam deveríam devrion "
    "sollten dovremm powinniś стоит следует moeten ventaj vantag avantag vorteil vantagg",
    "debug:error": "fehler erreur errore ошиб hata błęd błąd fout excepci exceç ausnahm eccezion исключ",
    "debug:fail": "falla fallo falha échou schläg stürz abstürz crashe blocca падает zawiesza çöküyor "
    "vastloop funciona fonctionn funktionier funziona działa работа çalışm werkt reinici "
    "redémar neustart riavvi перезапус problema problème проблем lento langsam wolno "
    "медлен yavaş traag",
    "reason:why": "warum pourquoi perché dlaczego почему neden waarom",
    "assist:explain": "explica explique erklär spieg wyjaśn объясн açıkl uitleg diferenc différen "
    "unterschied differenz różnic разниц verschil",
    "assist:lookup": "dónde donde dove gdzie nerede waar comando commande befehl poleceni команд komut commando",
    "assist:thanks": "gracias obrigad merci danke grazie dzięk спасиб teşekkür bedankt",
}.items():
    for _prefix in _prefixes.split():
        _STEMS[_prefix[: STEM_LENGTHS[-1]]] = _feature

# Substrings for scripts written without spaces (Chinese, Japanese) and for Korean's attached particles.
_CJK_TERMS: tuple[tuple[str, str], ...] = tuple(
    (term, feature)
    for feature, terms in {
        "plan:design": "设计 架构 方案 設計 アーキテクチャ 方針 설계 아키텍처",
        "plan:should": "应该 如何 怎么做 べき 해야",
        "plan:tradeoff": "权衡 比较 优缺点 比較 トレードオフ 비교 장단점",
        "reason:why": "为什么 なぜ どうして 왜",
        "debug:error": "报错 错误 异常 エラー 例外 오류 에러 예외",
        "debug:fail": "崩溃 失败 卡住 泄漏 很慢 特别慢 落ちる クラッシュ 遅い 失敗 크래시 느려 실패 작동하지",
        "debug:bug": "バグ 버그",
        "review:verb": "审查 审核 代码审查 レビュー 검토 리뷰",
        "review:security": "安全 漏洞 脆弱性 보안 취약",
        "refactor:verb": "重构 拆分 提取 重命名 简化 リファクタ 分割 抽出 リネーム 리팩터 리팩토링 분리 추출",
        "refactor:keep": "行为不变 動作は変え 동작은",
        "code:verb": "添加 加一个 加个 实现 写一个 编写 创建 修复 增加 追加 実装 作成 書いて 修正 추가 구현 "
        "작성 만들어 수정",
        "assist:lookup": "哪里 在哪 どこ 어디 命令 コマンド 명령어",
        "assist:explain": "是什么 什么是 解释 区别 とは 説明 違い 무엇 설명 차이",
        "assist:thanks": "谢谢 ありがとう 감사 고마워",
    }.items()
    for term in terms.split()
)

# Polite request forms ("请…", "帮我…", "…してください", "…해 주세요"): with a code verb they make the order
# that an English message opens with ("add …"), so they earn the same `lead:code`.
_CJK_REQUEST = ("请", "帮我", "给我", "ください", "下さい", "주세요", "해줘", "해 줘")

# --------------------------------------------------------------------------------------------------
# Feature weights: profile scores are sums of these. `classifier_model.json`, when shipped, refines them.

_RULE_WEIGHTS: dict[str, dict[Profile, float]] = {
    "debug:fail": {_D: 1.6},
    "debug:error": {_D: 1.4},
    "debug:verb": {_D: 2.2},
    "debug:bug": {_D: 1.4, _R: 0.3},
    "debug:still": {_D: 0.5},
    "reason:investigate": {_D: 0.8, _PL: 0.8},
    "reason:why": {_D: 0.6, _PL: 0.5},
    "debug:why": {_D: 1.0},
    "debug:symptom": {_D: 0.8},
    "debug:context": {_D: 0.4},
    "debug:inaction": {_D: 1.2},
    "debug:inspect": {_D: 2.5, _R: -1.0},
    "debug:what_wrong": {_D: 1.4},
    "form:measure": {_D: 0.4, _PL: 0.3},
    "debug:error_name": {_D: 1.6},
    "debug:known_cause": {_C: 1.0, _D: -0.6},
    "debug:fix_failure": {_D: 1.2, _C: -0.3},
    "review:check": {_R: 1.8},
    "plan:question": {_PL: 2.0},
    "plan:alternatives": {_PL: 0.8},
    "assist:howto": {_A: 1.2},
    "assist:concept": {_A: 1.2},
    "refactor:structure": {_RF: 0.7},
    "code:name": {_C: 0.2},
    "form:correction": {},
    "form:question": {_A: 0.3, _PL: 0.1, _D: 0.1},
    "review:verb": {_R: 2.4},
    "review:change": {_R: 0.7, _C: 0.2},
    "review:quality": {_R: 1.2},
    "review:security": {_R: 1.3, _PL: 0.2},
    "review:question": {_R: 1.6},
    "plan:design": {_PL: 1.8},
    "plan:tradeoff": {_PL: 1.4},
    "plan:system": {_PL: 0.7},
    "plan:risk": {_PL: 0.9, _R: 0.3},
    "plan:should": {_PL: 1.6},
    "code:verb": {_C: 0.6},
    "code:object": {_C: 0.6},
    "code:adjunct": {_C: 1.0},
    "refactor:verb": {_RF: 2.4},
    "refactor:keep": {_RF: 0.8},
    "refactor:move": {_RF: 0.6},
    "assist:lookup": {_A: 1.2},
    "assist:explain": {_A: 1.2},
    "assist:thanks": {_A: 2.0},
    "assist:ack": {_A: 0.3},
    "debug:negation": {_D: 0.5},
    "assist:quick": {_A: 0.4},
    "lead:code": {_C: 1.6},
    "lead:refactor": {_RF: 1.6},
    "lead:review": {_R: 1.6},
    "lead:debug": {_D: 1.6},
    "lead:plan": {_PL: 1.4},
    "lead:explain": {_A: 1.4},
    "lead:lookup": {_A: 1.4},
    "lead:why": {_A: 0.3, _PL: 0.2},
    "lead:should": {_PL: 1.2},
    "lead:what": {_A: 0.8},
    "lead:how": {_A: 0.5},
    "lead:yesno": {_A: 0.3},
    "len:short": {_A: 0.5},
    "len:long": {_PL: 0.8},
    "paste:traceback": {_D: 2.6},
    "paste:log": {_D: 1.2},
    "paste:diff": {_R: 0.9, _C: 0.2},
    "paste:code": {_C: 0.4, _RF: 0.2, _R: 0.2},
    # Added by the conversation stage from recent tool activity.
    "phase:failing": {_D: 3.5},
    "phase:editing": {_C: 1.5},
    "phase:exploring": {_A: 1.0},
    # Added by the conversation stage: the previous turn's decision (its tier pulls a weak message
    # along), and that tier crossed with the message's form (a question in the middle of coding is
    # usually a side question; an order after a diagnosis is the fix).
    **{f"{PREV_PREFIX}{p.value}": {p: 1.0} for p in P},
    **{f"{PREV_PREFIX}{t.value}+{form}": {} for t in Tier for form in CONTEXT_FORMS},
}

MODEL_FILE = "classifier_model.json"

# Pasted structure: a bounded line-wise scan, each pattern anchored at a line start.
_TRACEBACK_LINE = re.compile(
    r"^\s*(?:Traceback \(most recent call last\)|File \"[^\"\n]{1,300}\", line \d|at [\w$.<>\[\]/]{1,200}"
    r" ?\(|at [^\s()]{1,300}:\d+:\d+|goroutine \d+ \[|thread '[^'\n]{1,100}' panicked|panic: |Caused by: |"
    r"Exception in thread |[\w.$]{0,200}(?:Error|Exception)(?::|\s*$)|E\s{2,}\w|error\[E\d{4}\])",
    re.MULTILINE,
)
_LOG_LINE = re.compile(
    r"^\s*(?:\[?(?:ERROR|FATAL|CRITICAL|WARN(?:ING)?)\b|npm ERR!|FAILED\b|FAIL\b|fatal:|error:|"
    r"Segmentation fault|Killed\b|Aborted\b|\S{0,200}: command not found|.{0,200}\bexit (?:code|status) [1-9])",
    re.MULTILINE,
)
_DIFF_LINE = re.compile(r"^(?:diff --git |@@ -\d|\+\+\+ [ab/]|--- [ab]/|index [0-9a-f]{6,}\.\.)", re.MULTILINE)
_CODE_LINE = re.compile(
    r"^(?:\s{2,}|\t)\S|^\s*(?:def |class |import |from [\w.]+ import|function |const |let |var |return\b|"
    r"if \(|for \(|#include|public |private |func |fn |package |@\w+|[}\])];?\s*$)"
)
_WORD = re.compile(r"[^\W\d_][\w']*|\d+")
# Tokens with their dots and slashes: "plan.md", "src/db", "user_id" are names, not words.
_TOKEN = re.compile(r"[^\W\d][\w']*(?:[./][\w']+)*|\d+(?:\.\d+)*")
_SENTENCE_SPLIT = re.compile(r"[.!?\n;:]+\s*|\s[—–-]+\s|,\s+(?=(?:and|then|also|but|just|so|now|please)\b)")
# An identifier naming an error: TypeError, OOMKilled, EXC_BAD_ACCESS, CERTIFICATE_VERIFY_FAILED.
_ERROR_WORDS = ("Error", "Exception", "Killed", "Fault", "Panic")
_ERROR_CODE = re.compile(
    r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]*(?:FAILED|ERROR|ACCESS|DENIED|REFUSED|TIMEOUT|NOT_FOUND)\b|\bE[A-Z]{4,}\b|"
    r"\b0x[0-9a-fA-F]{4,}|\bexit (?:code|status) [1-9]"
)
# A self-correction ("plan the sprint? no, sorry — add …") voids what came before it; it sits near the start.
CORRECTION_SCAN_CHARS = 200
_CORRECTION = re.compile(
    r"^.{0,120}?(?:\?\s*(?:no|nope|nah|not|actually|i don'?t)\b[^\w]*(?:wait|sorry|actually)?|"
    r"\b(?:no wait|scratch that|never ?mind|on second thought)\b)[\s,.!—–-]*",
    re.IGNORECASE,
)
_IS_THIS_OK = re.compile(
    r"\b(?:is|are|does|do) (?:this|that|it|my|the|our|these|those)\b[^.?!\n]{0,50}?\b(?:correct(?:ly)?|right|ok|"
    r"okay|safe|good|fine|idiomatic|reasonable|sound|secure|solid|acceptable|properly)\b|\bany (?:issues|problems|"
    r"bugs|concerns|gotchas|red flags)\b|\bhow (?:bad|serious|risky|dangerous|exploitable) is\b|\bwhat do you think\b|"
    r"\bwhat would you (?:change|improve)\b|\b(?:you'?d|you would) do differently\b|"
    r"\banything (?:wrong|off|missing)\b|\bdid i miss\b"
)
_REVIEW_CHECK = re.compile(
    r"\b(?:check|verify|confirm|make sure|go over|go through|look over|look through|look for|scan|audit|"
    r"double[- ]check|tell me if|take a (?:critical |"
    r"close |hard |careful |second )?look)\b[^.?!\n]{0,90}?\b(?:correct(?:ly)?|secure|safe|permissive|vulnerab\w*|"
    r"risk\w*|break|leak\w*|sound|can|could|anything|properly|race|edge cases?|missing|bugs|issues|problems)\b"
)
_PLAN_QUESTION = re.compile(
    r"\bwhat(?:'s| is| are| would be)? (?:the |a )?(?:best|better|right|cleanest|simplest|proper|recommended|ideal|"
    r"sensible|idiomatic|preferred|correct) (?:way|approach|pattern|strategy|design|architecture|granularity|"
    r"structure|setup|stack)|\bhow (?:should|would|could|do|can|might) (?:we|i|you) (?:best )?(?:design|"
    r"structure|approach|architect|organi[sz]e|model|handle|scale|migrate|split|roll|tackle|get this|"
    r"go about|plan|evolve|rethink)|\bhow to (?:structure|design|approach|architect|organi[sz]e|model|scale|"
    r"migrate)|\bwhat (?:should|would|could) [^.?!\n]{0,60}\blook like|\bwhat stack\b|\bwhere should\b|"
    r"\bhow (?:do|can|should|would|could) we\b|\b(?:which|what) would you (?:pick|choose|use|recommend|do)\b|"
    r"\bwhere would you (?:look|start|begin)\b|\bhow (?:invasive|risky|hard|much work|big a change)\b|"
    r"\b(?:worth it|or overkill|or not)\b|\bwhat would it take\b|\bwhere (?:do|should|would) (?:we|i) (?:start|begin)\b|"
    r"\bis there a (?:cleaner|better|simpler|nicer|smarter|generic|more \w+) (?:way|approach|design|pattern)\b|"
    r"\bwhich (?:database|db|stack|framework|library|approach|option|"
    r"queue|broker|orm|pattern|one should)\b"
)
_ALTERNATIVES = re.compile(r", \w+,? or \w+\??| or \w+\?\s*(?:\w+ )?(?:query|we|our|it|the)\b")
_HOWTO = re.compile(
    r"\bhow (?:do|can|would) (?:i|you|one)\b|\bhow to\b|\bwhat'?s the (?:command|syntax|flag)\b|"
    r"\bis there a (?:way|command|flag|shortcut)\b"
)
_MEASURE = re.compile(r"\b\d+(?:\.\d+)?\s?(?:ms|s|sec|secs|seconds|minutes|mins|mb|gb|tb|kb|mi|gi|%|x|rps|qps)(?!\w)")
# A general concept question ("what's a stack trace?", "what does idempotent mean?") asks for an
# explanation, whatever failure or design word it names.
_CONCEPT = re.compile(
    r"^(?:\W*(?:so|ok|quick question|q)\W+)?(?:what(?:'s| is| are) (?:a|an)\b|what(?:'s| is) the difference|"
    r"what(?:'s| is| are) [\w -]{1,30}\?$|what does [\w -]{1,30} (?:mean|stand for)\b|"
    r"(?:what's|what is) the meaning|difference between|is [\w -]{1,30} the same as|"
    r"why is it called|why do (?:people|folks|devs|developers|teams|most|many|so many)\b|"
    r"how does [\w -]{1,30} work in general|explain (?:what|the difference))"
)
# Reviewing failure output is diagnosis, not code review: "review this stack trace".
_INSPECT_FAILURE = re.compile(
    r"\b(?:review|look at|check|go over|read|inspect|analy[sz]e)\b[^.?!\n]{0,30}?\b(?:stack ?traces?|tracebacks?|"
    r"logs?|errors?|crash(?:es)?|dumps?|exceptions?|core ?dumps?|panics?)\b"
)
# A thing that does not do what it should: "switching language doesn't update the page".
_INACTION = re.compile(
    r"\b(?:doesn'?t|does not|isn'?t|won'?t|didn'?t|don'?t|aren'?t|can'?t|cannot|never|no longer) (?:\w+ ){0,2}?"
    r"(?:work|update|load|render|show|fire|trigger|run|start|save|persist|apply|match|change|refresh|redirect|"
    r"connect|compile|build|return|get|respond|close|stop|finish|exit|happen|appear|reach|send|receive|"
    r"pick|clear|reset|release|resolve|find|read|write|sync|propagate)\w*\b"
)
# "Fix" of a failure whose cause the message does not give ("fix the red test in ci") is a diagnosis.
_FIX_FAILURE = re.compile(
    r"\bfix (?:the |this |that |our |my |all )?(?:failing|red|broken|flaky|crashing|failed|hanging)\b"
)
_KNOWN_CAUSE = re.compile(r"\b(?:is|was|are|were) (?:because|caused by|due to)\b|\bthe (?:fix|cause) is\b")
_WHY_BROKEN = re.compile(r"\bwhy (?:is|does|do|did|are|am|would|won't|doesn't|isn't|can't|it|the|this|my|our|we|i)\b")


def _bounded(text: str) -> str:
    if len(text) <= HEAD_CHARS + TAIL_CHARS:
        return text
    return text[:HEAD_CHARS] + "\n" + text[-TAIL_CHARS:]


def _split_paste(text: str) -> tuple[str, set[str]]:
    """Separate the user's prose from pasted code, traces, logs and diffs; report what was pasted."""
    pasted: set[str] = set()
    if "```" in text:
        parts = text.split("```")
        fenced = "\n".join(parts[1::2])
        text = "\n".join(parts[0::2])
        if fenced.strip():
            pasted.add("paste:code")
            _scan_paste(fenced, pasted)
    if "\n" not in text:
        return text, pasted
    prose_lines = []
    for line in text.splitlines():
        if _TRACEBACK_LINE.match(line):
            pasted.add("paste:traceback")
        elif _LOG_LINE.match(line):
            pasted.add("paste:log")
        elif _DIFF_LINE.match(line):
            pasted.add("paste:diff")
        elif _CODE_LINE.match(line) or line.rstrip().endswith((";", "{")):
            pasted.add("paste:code")
        else:
            prose_lines.append(line)
    return "\n".join(prose_lines), pasted


def _scan_paste(block: str, pasted: set[str]) -> None:
    if _TRACEBACK_LINE.search(block):
        pasted.add("paste:traceback")
    if _LOG_LINE.search(block):
        pasted.add("paste:log")
    if _DIFF_LINE.search(block):
        pasted.add("paste:diff")


def _lead_feature(tokens: list[str]) -> str | None:
    """The intent of one sentence: its first word after openers such as "please" or "can you".

    An order word that is the subject of a statement ("build is green", "test keeps failing") or follows
    a bare "I"/"we" ("we keep getting paged", "I think there's a race") states something instead.
    """
    for i, token in enumerate(tokens[:6]):
        following = tokens[i + 1] if i + 1 < len(tokens) else ""
        if token in _MODAL_OPENERS and following in ("you", "u", "we", "i"):
            continue
        if token in _OPENERS and not (token in _LEAD_WORDS and following and following not in _OPENERS):
            continue
        paired = _LEAD_PAIRS.get((token, following), "")
        if paired != "":
            return paired
        lead = _LEAD_WORDS.get(token)
        if lead in _ORDER_LEADS and (
            following in _STATEMENT_FOLLOWERS
            or (i > 0 and tokens[i - 1] in ("i", "we") and (i < 2 or tokens[i - 2] not in _MODAL_OPENERS))
        ):
            return None
        return lead
    return None


# Chinese, Japanese (kana included) and Korean characters, each worth about a short word.
_WIDE = r"[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff]"
_WIDE_CHAR = re.compile(_WIDE)
WIDE_CHAR_WEIGHT = 4
# Runs of those scripts. Chinese and Japanese have no spaces, so a run is a whole clause; its character
# pairs ("原因", "設計", "리뷰") stand in for words in the trained table.
_WIDE_RUN = re.compile(_WIDE + "{2,}")

# Intent patterns run over a bounded window of the prose, and only when a word they need is present.
INTENT_HEAD_CHARS = 400
INTENT_TAIL_CHARS = 300
_INTENT_PATTERNS: tuple[tuple[str, re.Pattern[str], frozenset[str]], ...] = (
    ("review:question", _IS_THIS_OK, frozenset(["is", "are", "does", "do", "any", "what", "anything", "did", "how", "differently"])),
    ("review:check", _REVIEW_CHECK, frozenset(["check", "verify", "confirm", "sure", "go", "look", "audit", "double", "tell", "take", "scan"])),
    ("plan:question", _PLAN_QUESTION, frozenset(["what", "what's", "whats", "how", "where", "which", "worth", "overkill", "or", "is"])),
    ("plan:alternatives", _ALTERNATIVES, frozenset(("or",))),
    ("assist:howto", _HOWTO, frozenset(["how", "what's", "whats", "is"])),
    (
        "debug:inaction",
        _INACTION,
        frozenset(["doesn't", "doesnt", "isn't", "won't", "didn't", "don't", "aren't", "can't", "cannot", "never", "not", "longer"]),
    ),
    ("assist:concept", _CONCEPT, frozenset(["what", "what's", "is", "difference", "why", "how", "explain"])),
    ("debug:inspect", _INSPECT_FAILURE, frozenset(["review", "look", "check", "go", "read", "inspect", "analyze", "analyse"])),
    ("debug:known_cause", _KNOWN_CAUSE, frozenset(["because", "caused", "due", "fix", "cause"])),
    ("debug:fix_failure", _FIX_FAILURE, frozenset(("fix",))),
)


def _regex_features(lower: str, tokens: set[str], features: set[str]) -> None:
    if len(lower) > INTENT_HEAD_CHARS + INTENT_TAIL_CHARS:
        lower = lower[:INTENT_HEAD_CHARS] + "\n" + lower[-INTENT_TAIL_CHARS:]
    for feature, pattern, needs in _INTENT_PATTERNS:
        if not needs.isdisjoint(tokens) and pattern.search(lower):
            features.add(feature)
    if "why" in tokens and "debug:fail" in features and _WHY_BROKEN.search(lower):
        features.add("debug:why")
    if _MEASURE.search(lower):
        features.add("form:measure")


def _word_families(word: str) -> tuple[str, ...]:
    """The lexicon families of a word, or the family of its stem."""
    hit = _LEXICON.get(word)
    if hit is not None:
        return hit
    for length in STEM_LENGTHS:
        if len(word) < length:
            break
        feature = _STEMS.get(word[:length])
        if feature is not None:
            return (feature,)
    return ()


# Per distinct token: its repaired spelling and its families. Bounded; cleared when full.
_TOKEN_CACHE: dict[str, tuple[str, tuple[str, ...]]] = {}
TOKEN_CACHE_SIZE = 16384
_PHRASE_HEADS = frozenset(phrase.split()[0] for phrase in _PHRASES)


def _token_info(token: str) -> tuple[str, tuple[str, ...]]:
    info = _TOKEN_CACHE.get(token)
    if info is None:
        if len(_TOKEN_CACHE) >= TOKEN_CACHE_SIZE:
            _TOKEN_CACHE.clear()
        word = _spelled(token)
        info = _TOKEN_CACHE[token] = (word, _word_families(word))
    return info


def _word_features(tokens: list[str], features: set[str]) -> None:
    skip = False
    last = len(tokens) - 1
    for i, token in enumerate(tokens):
        if skip:
            skip = False
            continue
        pair = _PAIR_HEADS.get(token)
        if pair is not None and i < last and tokens[i + 1] in pair[0]:
            features.add(pair[1])
            skip = True
            continue
        families = _LEXICON.get(token) or _token_info(token)[1]
        if families:
            features.update(families)
        if token in _PHRASE_HEADS and i < last:
            phrase = _PHRASES.get(token + " " + tokens[i + 1])
            if phrase is not None:
                features.add(phrase)


def _words(prose: str, features: set[str]) -> list[str]:
    """Lower-cased words of the prose, spelling repaired; inline code and names (paths, files,
    identifiers) are left out and noted as `code:name`."""
    if "`" in prose:
        parts = prose.split("`")
        if len(parts) > 2:
            features.add("code:name")
            prose = " ".join(parts[0::2])
    words = []
    for token in _TOKEN.findall(prose.lower()):
        if "." in token or "/" in token or "_" in token:
            features.add("code:name")
        else:
            words.append(_token_info(token)[0])
    return words


def extract_features(text: str) -> set[str]:
    """The named features of a message (rule features and bare words); the trained table and the
    rules score the same set."""
    prose, features = _split_paste(_bounded(text))
    pasted = bool(features)
    correction = _CORRECTION.match(prose, 0, CORRECTION_SCAN_CHARS)
    if correction is not None and correction.end() < len(prose):
        prose = prose[correction.end() :]
        features.add("form:correction")
    if any(word in prose for word in _ERROR_WORDS) or _ERROR_CODE.search(prose):
        features.add("debug:error_name")
    tokens = _words(prose, features)
    if not tokens:
        return features
    token_set = set(tokens)
    _word_features(tokens, features)
    features.update(token_set)
    # Word pairs ("commit message", "is it", "write the") carry what single words lose; the first
    # BIGRAM_TOKENS words hold the ask in most messages and keep the count bounded.
    head = tokens[:BIGRAM_TOKENS]
    features.update(a + " " + b for a, b in zip(head, head[1:]))
    features.update(w[:STEM_CHARS] + STEM_MARK for w in token_set if STEM_CHARS < len(w) <= STEM_MAX_WORD_CHARS)
    if "why" in token_set:
        features.add("reason:why")
    lower = prose.lower()
    for sentence in _SENTENCE_SPLIT.split(lower[:INTENT_HEAD_CHARS]):
        lead = _lead_feature(_WORD.findall(sentence))
        if lead is not None:
            features.add(lead)
    _regex_features(lower, token_set, features)
    stripped = prose.strip()
    if not stripped.isascii():
        for term, feature in _CJK_TERMS:
            if term in stripped:
                features.add(feature)
        if "code:verb" in features and any(marker in stripped for marker in _CJK_REQUEST):
            features.add("lead:code")
        for run in _WIDE_RUN.findall(stripped):
            features.update(run[i : i + 2] for i in range(len(run) - 1))
    # Scripts without spaces pack a word into a character or two: such a character counts as several.
    length = len(stripped)
    if not stripped.isascii():
        length += (WIDE_CHAR_WEIGHT - 1) * len(_WIDE_CHAR.findall(stripped))
    if length < SHORT_PROSE_CHARS and not pasted:
        features.add("len:short")
    elif length > LONG_PROSE_CHARS:
        features.add("len:long")
    if stripped.endswith("?"):
        features.add("form:question")
    return features


# --------------------------------------------------------------------------------------------------
# Scoring


_PROFILES: tuple[Profile, ...] = tuple(P)
_TIER_OF = tuple(PROFILE_TIER[p] for p in _PROFILES)
Vector = tuple[float, ...]


def _vector(weights: dict) -> Vector:
    return tuple(float(weights.get(p.value, weights.get(p, 0.0))) for p in _PROFILES)


def _load_weights() -> tuple[dict[str, Vector], Vector, float]:
    """Rule weights, or the trained table (which starts from them) when the package ships one, and the
    temperature that calibrates its probabilities. Word features are stored as "w:word" and looked up by
    the bare word."""
    try:
        raw = json.loads(resources.files("kimchi_plugin.data").joinpath(MODEL_FILE).read_text())
    except FileNotFoundError:
        return {f: _vector(ws) for f, ws in _RULE_WEIGHTS.items()}, (0.0,) * len(_PROFILES), 1.0
    if raw["profiles"] != [p.value for p in _PROFILES]:
        raise ValueError(f"{MODEL_FILE}: profiles {raw['profiles']} differ from {[p.value for p in _PROFILES]}")
    weights = {f.removeprefix(WORD_PREFIX): tuple(ws) for f, ws in raw["weights"].items()}
    return weights, tuple(raw["bias"]), float(raw["temperature"])


Table = tuple[dict[str, Vector], Vector, float]
# The weight table, bias and temperature; read on first use (the runtime warms it after start-up).
_TABLE: Table | None = None


def load_weights() -> Table:
    """The weight table, read from the package once: parsing ~900 KiB costs ~20 ms, which start-up need
    not pay. Safe from any thread: a race only reads the same file twice."""
    global _TABLE
    table = _TABLE
    if table is None:
        table = _TABLE = _load_weights()
    return table


_CONTEXT = ("len:", "form:", "phase:", PREV_PREFIX)
# Features that are evidence about the message's need (not its length or form, nor single words).
_EVIDENCE = frozenset(f for f, ws in _RULE_WEIGHTS.items() if any(ws.values()) and not f.startswith(_CONTEXT))
# What keeps a decision off the no-evidence default: the message's evidence or its conversation.
_NOT_DEFAULT = _EVIDENCE | frozenset(f for f in _RULE_WEIGHTS if f.startswith(("phase:", PREV_PREFIX)))


def set_weights(weights: dict[str, Vector], bias: Vector, temperature: float = 1.0) -> Table:
    """Swap the weight table (the trainer scores candidate tables with it); returns the previous one."""
    global _TABLE
    previous = load_weights()
    _TABLE = (weights, bias, temperature)
    return previous


def _sums(weights: dict[str, Vector], features: Iterable[str], start: Vector) -> list[float]:
    """`start` plus the weights of the features, per profile (in `Profile` order)."""
    rows = [v for f in features if (v := weights.get(f)) is not None]
    return [sum(column) for column in zip(start, *rows)]


def score(features: set[str]) -> list[float]:
    """Sum of feature weights per profile (in `Profile` order), plus the table's bias, divided by the
    calibration temperature."""
    weights, bias, temperature = load_weights()
    return [s / temperature for s in _sums(weights, features, bias)]


def probabilities(scores: list[float]) -> list[float]:
    """Profile scores as probabilities (softmax)."""
    peak = max(scores)
    exps = [math.exp(x - peak) for x in scores]
    total = sum(exps)
    return [e / total for e in exps]


def _signal_name(feature: str) -> str:
    return feature if ":" in feature else WORD_PREFIX + feature


def _top_signals(features: set[str], index: int) -> tuple[str, ...]:
    weights = load_weights()[0]
    weighted = [(v[index], f) for f in features if (v := weights.get(f)) is not None and v[index] > 0.0]
    weighted.sort(reverse=True)
    return tuple(_signal_name(f) for _, f in weighted[:MAX_SIGNALS])


def classify(text: str) -> Classification:
    """Profile for one user message, from its own words alone."""
    if not text or not text.strip():
        return Classification(P.ASSISTANT, EMPTY_CONFIDENCE, ("empty",))
    return decide_features(extract_features(text))


def _pick(sums: list[float], features: set[str]) -> tuple[int, float] | None:
    """The winning profile's index and its tier's probability, or None for the no-evidence default.

    The tier with the highest probability wins, with Reasoning's probability weighted up by the
    extra cost of sending hard work to a weaker model; the profile is the best one inside that tier.
    """
    temperature = load_weights()[2]
    probs = probabilities([s / temperature for s in sums])
    tiers = dict.fromkeys(TIER_ORDER, 0.0)
    for tier_of, p in zip(_TIER_OF, probs):
        tiers[tier_of] += p
    tier = max(TIER_ORDER, key=lambda t: tiers[t] * (REASONING_MISS_COST if t is Tier.REASONING else 1.0))
    if features.isdisjoint(_NOT_DEFAULT) and tiers[tier] < MODEL_ALONE_MIN:
        return None
    index = max((i for i, t in enumerate(_TIER_OF) if t is tier), key=sums.__getitem__)
    return index, tiers[tier]


def _default(features: set[str]) -> Classification:
    short = "len:short" in features
    return Classification(
        P.ASSISTANT if short else P.CODER, DEFAULT_CONFIDENCE, ("default:short" if short else "default:unspecific",)
    )


def _decision(picked: tuple[int, float] | None, features: set[str]) -> Classification:
    if picked is None:
        return _default(features)
    index, p = picked
    confidence = round(min(CONFIDENCE_CEIL, max(CONFIDENCE_FLOOR, p)), 3)
    return Classification(_PROFILES[index], confidence, _top_signals(features, index))


def decide_features(features: set[str]) -> Classification:
    """Classification from a feature set."""
    weights, bias, _ = load_weights()
    return _decision(_pick(_sums(weights, features, bias), features), features)


def decide_in_context(features: set[str], context: set[str]) -> tuple[Classification, Profile]:
    """Classification from a message's features plus its conversation's (`prev:*`, `phase:*`), and the
    profile the message's own features would have chosen (so the caller can tell what the context did)."""
    weights, bias, _ = load_weights()
    own_sums = _sums(weights, features, bias)
    own = _pick(own_sums, features)
    own_profile = _PROFILES[own[0]] if own is not None else _default(features).profile
    both = features | context
    return _decision(_pick(_sums(weights, context, own_sums), both), both), own_profile
