"""Plugin options (the second element of the `plugin` tuple in opencode.json), with every default in one place."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

DEFAULT_PROVIDER = "kimchi"
DEFAULT_BASE_URL = "https://llm.cast.ai/openai/v1"


class Settings(BaseModel):
    """Options users set in opencode.json. Unknown keys are ignored (and logged), never an error."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    provider: str = DEFAULT_PROVIDER
    """Provider id the plugin routes for; calls for other providers are left alone."""
    verbose: bool = False
    """Log every routing decision with its signals (debug level)."""
    logFile: str | None = None
    """Where the brain writes its log; default `$XDG_STATE_HOME/opencode-kimchi/brain.log`."""
    apiKey: SecretStr | None = None
    """Kimchi API key; otherwise provider options, KIMCHI_API_KEY, CASTAI_API_KEY, ~/.config/kimchi/config.json."""
    llmBaseUrl: str | None = None
    """OpenAI-compatible base URL; otherwise the provider's baseURL, otherwise the Kimchi endpoint."""
    llmClassifier: bool = True
    """Ask the cheapest model when the heuristics are unsure."""
    llmClassifierThreshold: float = Field(default=0.5, ge=0.0, le=1.0)
    """Heuristic confidence below which the LLM classifier is consulted."""
    llmClassifierTimeoutMs: int = Field(default=800, ge=50, le=1200)
    """Hard deadline of one LLM classification (kept under the shim's chat.message budget)."""
    models: dict[str, str] = Field(default_factory=dict)
    """Pin a model per tier: {"reasoning": id, "coding": id, "quick": id}."""
    priorities: dict[str, dict[str, int]] = Field(default_factory=dict)
    """Rank overrides: {model id: {tier: rank}} (lower is preferred)."""
    primaryFloor: bool = True
    """Automatic decisions for primary agents never drop below the Coding tier."""
    toasts: bool = True
    """Show a toast when the routed model or mode changes."""
    orchestrator: bool = True
    """Add the `kimchi-auto` orchestrator agent and delegation reminders."""
    telemetry: bool = False
    """Send OTLP logs and metrics (also on with OPENCODE_ENABLE_TELEMETRY=1|true)."""
    logsEndpoint: str | None = None
    metricsEndpoint: str | None = None
    stats: bool = True
    """Record routed turns in the local stats database (see `kimchi-plugin stats`)."""
    cacheAware: bool = True
    """Keep a session on the model holding its warm prompt cache when a cheaper tier would cost more overall."""
    sessionBudget: float | None = Field(default=None, gt=0)
    """Spend limit per session in USD: a toast at 80 %; past it, automatic decisions step down a tier."""
    dailyBudget: float | None = Field(default=None, gt=0)
    """Spend limit per day (local time) in USD, over this OpenCode process's sessions and today's recorded usage."""
    stallEscalation: bool | Literal["next"] = True
    """A stuck turn (the same call failing, the same error, edits undone) moves to the Reasoning tier: true within
    the turn (stopped and continued there), "next" at the next message, false never."""
    learn: bool = True
    """Learn from your corrections (a mode or tier chosen right after an automatic decision); `kimchi-plugin learn`."""
    learnScope: Literal["project", "global"] = "project"
    """Whether corrections apply to the project they were made in, or everywhere."""
    record: bool | str = False
    """Record sessions for a bug report (keys removed): true for `$XDG_STATE_HOME/opencode-kimchi/recordings/`, or a
    file path; see `kimchi-plugin record` and `replay`."""

    @field_validator("models", mode="before")
    @classmethod
    def _only_tiers(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: v for k, v in value.items() if k in ("reasoning", "coding", "quick") and isinstance(v, str)}
        return {}

    @field_validator("priorities", mode="before")
    @classmethod
    def _clean_priorities(cls, value: Any) -> Any:
        if not isinstance(value, Mapping):
            return {}
        clean: dict[str, dict[str, int]] = {}
        for model, ranks in value.items():
            if isinstance(ranks, Mapping):
                clean[str(model)] = {
                    t: int(r)
                    for t, r in ranks.items()
                    if t in ("reasoning", "coding", "quick") and isinstance(r, (int, float))
                }
        return clean

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None) -> tuple[Settings, list[str]]:
        """Parse options leniently: a bad value falls back to its default. Returns (settings, problems)."""
        problems: list[str] = []
        clean: dict[str, Any] = {}
        for key, value in (options or {}).items():
            if key not in cls.model_fields:
                continue
            try:
                cls.model_validate({key: value})
                clean[key] = value
            except ValueError:
                problems.append(f"option {key!r} has an invalid value; using the default")
        return cls.model_validate(clean), problems


def home(env: Mapping[str, str]) -> str:
    """The user's home as the injected environment says (HOME), else the process's."""
    return env.get("HOME") or os.path.expanduser("~")


def default_log_file(env: Mapping[str, str]) -> str:
    """`$XDG_STATE_HOME/opencode-kimchi/brain.log` (`~/.local/state` when unset)."""
    state = env.get("XDG_STATE_HOME") or os.path.join(home(env), ".local", "state")
    return os.path.join(state, "opencode-kimchi", "brain.log")
