"""Slash-command parsing, lenient option parsing, and where the API key comes from."""

from __future__ import annotations

import json

import pytest

from kimchi_plugin.logs import redact
from kimchi_plugin.provider.credentials import find_api_key
from kimchi_plugin.routing import commands
from kimchi_plugin.routing.tiers import Profile
from kimchi_plugin.settings import Settings


@pytest.mark.parametrize(
    ("text", "kind", "profile", "rest"),
    [
        ("/plan the cache layer", "once", Profile.PLANNER, "the cache layer"),
        ("  /DEBUG why", "once", Profile.DEBUGGER, "why"),
        ("/review", "once", Profile.REVIEWER, ""),
        ("/lock reasoning and go", "lock", Profile.PLANNER, "and go"),
        ("/lock debugger", "lock", Profile.DEBUGGER, ""),
        ("/lock quick", "lock", Profile.ASSISTANT, ""),
        ("/auto where is x", "auto", None, "where is x"),
    ],
)
def test_commands_parse(text: str, kind: str, profile: Profile | None, rest: str) -> None:
    command = commands.parse(text)
    assert command is not None
    assert (command.kind, command.profile, command.rest) == (kind, profile, rest)


@pytest.mark.parametrize("text", ["/planning ahead", "/lock nonsense", "/lock", "please /plan this", "/init", "/ plan"])
def test_non_commands_stay_text(text: str) -> None:
    assert commands.parse(text) is None


def test_review_is_not_registered_because_opencode_owns_it() -> None:
    assert "review" not in commands.REGISTERED and "plan" in commands.REGISTERED


def test_bad_option_values_fall_back_to_defaults() -> None:
    settings, problems = Settings.from_options(
        {"llmClassifierThreshold": 7, "verbose": True, "models": {"coding": "x", "bogus": "y"}, "unknown": 1}
    )
    assert settings.llmClassifierThreshold == 0.5 and settings.verbose
    assert settings.models == {"coding": "x"}
    assert problems == ["option 'llmClassifierThreshold' has an invalid value; using the default"]


def test_api_key_precedence(tmp_path) -> None:
    cli = tmp_path / "kimchi" / "config.json"
    cli.parent.mkdir()
    cli.write_text(json.dumps({"api_key": "from-cli-file-123"}))
    env = {
        "XDG_CONFIG_HOME": str(tmp_path),
        "KIMCHI_API_KEY": "from-kimchi-env-1",
        "CASTAI_API_KEY": "from-castai-env-1",
    }
    assert find_api_key("from-option-1234", {"apiKey": "from-provider-1"}, env)[0] == "from-option-1234"
    assert find_api_key(None, {"apiKey": "from-provider-1"}, env) == ("from-provider-1", "provider options")
    assert find_api_key(None, {}, env)[1] == "KIMCHI_API_KEY"
    assert find_api_key(None, {}, {**env, "KIMCHI_API_KEY": ""})[1] == "CASTAI_API_KEY"
    assert find_api_key(None, {}, {"XDG_CONFIG_HOME": str(tmp_path)}) == ("from-cli-file-123", str(cli))
    assert find_api_key(None, {}, {"XDG_CONFIG_HOME": str(tmp_path / "none")}) == (None, "none")


def test_found_keys_are_redacted_from_logs() -> None:
    find_api_key("sk-very-secret-value", None, {})
    assert "sk-very-secret-value" not in redact("calling with sk-very-secret-value and Bearer abcdef123456")
    assert "abcdef123456" not in redact("Authorization: Bearer abcdef123456")
