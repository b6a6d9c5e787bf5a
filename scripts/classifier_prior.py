"""The trainer's prior: hand-set weights per feature that training starts from and pulls towards.

The shipped weight table supersedes these numbers; what routing keeps of them is which features count as evidence
(those given any weight here, see `evidence_features`), written into the table by the trainer.
"""

from __future__ import annotations

from kimchi_plugin.routing.classifier import CONTEXT_FORMS, PREV_PREFIX
from kimchi_plugin.routing.tiers import Profile, Tier

_D, _R, _PL, _C, _RF, _A = (
    Profile.DEBUGGER,
    Profile.REVIEWER,
    Profile.PLANNER,
    Profile.CODER,
    Profile.REFACTORER,
    Profile.ASSISTANT,
)
# Features about a message's length or form, and about its conversation: not evidence of the message's need.
_NOT_NEED = ("len:", "form:", "phase:", PREV_PREFIX)
_CONVERSATION = ("phase:", PREV_PREFIX)

RULE_WEIGHTS: dict[str, dict[Profile, float]] = {
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
    **{f"{PREV_PREFIX}{p.value}": {p: 1.0} for p in Profile},
    **{f"{PREV_PREFIX}{t.value}+{form}": {} for t in Tier for form in CONTEXT_FORMS},
}


def evidence_features() -> frozenset[str]:
    """What keeps a decision off the no-evidence default: features with prior weight that speak of the message's
    need (not its length or form), and every feature of the conversation."""
    need = {f for f, ws in RULE_WEIGHTS.items() if any(ws.values()) and not f.startswith(_NOT_NEED)}
    return frozenset(need | {f for f in RULE_WEIGHTS if f.startswith(_CONVERSATION)})
