"""The language of an edited file, by extension or well-known file name (the `language` attribute of edit metrics)."""

from __future__ import annotations

from collections.abc import Mapping

UNKNOWN_LANGUAGE = "unknown"

_EXTENSION_LANGUAGE: Mapping[str, str] = {
    **dict.fromkeys(("ts", "tsx", "mts", "cts"), "TypeScript"),
    **dict.fromkeys(("js", "jsx", "mjs", "cjs"), "JavaScript"),
    **dict.fromkeys(("py", "pyi"), "Python"),
    "go": "Go",
    "rs": "Rust",
    "rb": "Ruby",
    "java": "Java",
    **dict.fromkeys(("kt", "kts"), "Kotlin"),
    "swift": "Swift",
    **dict.fromkeys(("c", "h"), "C"),
    **dict.fromkeys(("cpp", "cc", "cxx", "hpp", "hh", "hxx"), "C++"),
    "cs": "C#",
    "php": "PHP",
    "dart": "Dart",
    "scala": "Scala",
    "lua": "Lua",
    **dict.fromkeys(("md", "mdx"), "Markdown"),
    "json": "JSON",
    **dict.fromkeys(("yaml", "yml"), "YAML"),
    **dict.fromkeys(("toml", "ini"), "TOML"),
    **dict.fromkeys(("xml", "html", "htm", "svg"), "HTML/XML"),
    **dict.fromkeys(("css", "scss", "sass", "less"), "CSS"),
    "sql": "SQL",
    **dict.fromkeys(("sh", "bash", "zsh"), "Bash"),
    "txt": "Plain text",
    "proto": "Protocol Buffers",
    **dict.fromkeys(("tf", "hcl"), "HCL"),
}
_FILENAME_LANGUAGE: Mapping[str, str] = {"dockerfile": "Dockerfile", "makefile": "Makefile"}


def language_of(path: str) -> str:
    """Language of a file by its extension (or well-known name); `unknown` otherwise."""
    name = path.replace("\\", "/").rsplit("/", 1)[-1].lower()
    if name in _FILENAME_LANGUAGE:
        return _FILENAME_LANGUAGE[name]
    if name.endswith(".dockerfile"):
        return "Dockerfile"
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        return UNKNOWN_LANGUAGE
    return _EXTENSION_LANGUAGE.get(ext, UNKNOWN_LANGUAGE)
