"""Turn rules every real-corpus extractor shares: how many turns, how long a turn, which tokens and names go.

Why: specstory.py, aider.py and transcripts.py read different formats but promise the
same corpus rules (tests/routing_data/real/README_*.md); the rules they share are
written here once. Each extractor keeps only what is particular to its format (machine
turns, key = value secrets, home paths). The extractors run as scripts, so they import
this module by its bare name from their own folder. Stdlib only.
"""

from __future__ import annotations

import re

MAX_TURNS = 14  # the first turns of a session, in order
TRIM_OVER, KEEP_HEAD, KEEP_TAIL = 1500, 1000, 300

EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# API keys and tokens by their vendors' formats, replaced whole.
TOKEN_RE = re.compile(
    "|".join(
        (
            r"\bsk-(?:ant-|proj-|or-v1-)?[A-Za-z0-9_-]{16,}",
            r"\bgh[pousr]_[A-Za-z0-9]{20,}",
            r"\bgithub_pat_[A-Za-z0-9_]{20,}",
            r"\bAKIA[0-9A-Z]{16}\b",
            r"\bAIza[0-9A-Za-z_-]{30,}",
            r"\bxox[abprs]-[A-Za-z0-9-]{10,}",
            r"\bglpat-[A-Za-z0-9_-]{16,}",
            r"\beyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]{5,}",
            r"\b(?:r8|hf|pk|rk|sk|gsk)_(?:live_|test_)?[A-Za-z0-9]{20,}",
        )
    )
)


# A bearer token goes, the word "Bearer" stays.
BEARER_RE = re.compile(r"(?<=Bearer )[A-Za-z0-9._\-]{16,}")
# Account names in home paths are often people's names.
HOME_RE = re.compile(r"((?<![\w.\-])(?:/Users/|/home/)|[A-Za-z]:(?:\\+|/)Users(?:\\+|/))([^/\\\s]+)")


# ... and so are account names in shell prompts.
PROMPT_RE = re.compile(r"\b[\w.\-]+@([\w\-]*(?:MacBook|MBP|iMac|Mac-mini|PC|Laptop|DESKTOP)[\w.\-]*)")


def redact_home(text: str) -> str:
    return HOME_RE.sub(lambda m: m.group(1) + "<name>", text)


def redact_tokens(text: str) -> str:
    return TOKEN_RE.sub("<secret>", text)


def redact_names(text: str, names: list[str]) -> str:
    """Full names of private people met while reviewing a source, case-insensitively."""
    for name in names:
        text = re.sub(re.escape(name), "<name>", text, flags=re.I)
    return text


def trim(text: str) -> str:
    """A long paste keeps its head and tail, with how much was cut between them."""
    if len(text) <= TRIM_OVER:
        return text
    cut = len(text) - KEEP_HEAD - KEEP_TAIL
    return f"{text[:KEEP_HEAD]}[…{cut} chars cut…]{text[-KEEP_TAIL:]}"
