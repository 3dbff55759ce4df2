"""``${env:NAME}`` / ``${env:NAME|default}`` placeholders (Wippy's environment registry = OS env)."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from ..errors import ConfigError

_PLACEHOLDER = re.compile(r"\$\{env:([^}|]*)(?:\|([^}]*))?\}")


def resolve_env(value: str, env: Mapping[str, str] | None = None) -> str:
    """Replace every placeholder in ``value``; an unset variable without default is an error.

    A variable set to the empty string counts as set (the default is for *unset* only).
    """
    environ: Mapping[str, str] = os.environ if env is None else env

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1).strip()
        if not name:
            raise ConfigError(f"empty variable name in {match.group(0)!r}")
        if name in environ:
            return environ[name]
        default = match.group(2)
        if default is None:
            raise ConfigError(
                f"environment variable {name} is not set",
                hint=f"set it, or give a default: ${{env:{name}|value}}",
            )
        return default

    return _PLACEHOLDER.sub(substitute, value)


def has_env_placeholder(value: str) -> bool:
    return _PLACEHOLDER.search(value) is not None
