"""The application behind the OpenCode adapter: one Brain owning session state, given its services."""

from kimchi_plugin.brain.core import Brain, ConfigAnswer, Routed, TranscriptEntry, UserTurn
from kimchi_plugin.brain.services import LlmSpec, Services

__all__ = ["Brain", "ConfigAnswer", "LlmSpec", "Routed", "Services", "TranscriptEntry", "UserTurn"]
