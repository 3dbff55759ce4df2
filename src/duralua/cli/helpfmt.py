"""``--help`` that reads like a CLI's help, not like Python annotations.

Typer shows every parameter's Python type (``<bool>``, ``<str>``, ``<list[str]>``) and the
argument names in braces (``{workflow}``). :func:`tidy` walks the built Click command tree
once, before it runs: flags show no value, other options show an upper-case placeholder
named after what they take (``--worker WORKER``, ``--timeout SECONDS``), arguments their
upper-case name. Help texts lose their Markdown backquotes and are escaped for Rich, so a
``duralua[otel]`` in them is printed, not swallowed as markup.

Typer vendors its own copy of Click, so parameters are told apart by ``param_type_name``.
"""

from __future__ import annotations

from typing import Any

from rich.markup import escape

# Placeholders for options whose name alone does not say what they take.
_PLACEHOLDERS = {
    "dir": "DIR",
    "db": "PATH",
    "file": "PATH",
    "timeout": "SECONDS",
    "engine": "embedded|temporal",
    "synchronous": "MODE",
    "limit": "N",
    "port": "PORT",
    "db_file": "PATH",
    "search": "NAME=JSON",
    "status": "STATUS",
    "type": "TYPE",
    "workflow_id": "ID",
    "update_id": "ID",
    "address": "HOST:PORT",
    "namespace": "NAME",
    "older_than": "DURATION",
    "call": "FUNCTION",
    "reason": "TEXT",
    "worker": "WORKER",
}
_ARGUMENTS = {"ident": "ID", "positional": "DIR", "entry": "FUNCTION", "payload": "JSON", "arg": "JSON"}


def _placeholder(param: Any) -> str:
    name = param.name or "value"
    for opt in getattr(param, "opts", []):
        if opt.startswith("--"):
            key = opt[2:].replace("-", "_")
            if key in _PLACEHOLDERS:
                return _PLACEHOLDERS[key]
    return _PLACEHOLDERS.get(name, name.upper())


def _no_type(ctx: Any) -> str | None:
    return None


def _text(text: str | None) -> str | None:
    return None if text is None else escape(text.replace("`", ""))


def _tidy_param(param: Any) -> None:
    if getattr(param, "help", None):
        param.help = _text(param.help)
    if param.param_type_name == "option":
        if param.is_flag or param.count:
            param.metavar = ""
        elif param.metavar is None:
            param.metavar = _placeholder(param)
    elif param.param_type_name == "argument":
        if param.metavar is None:
            name = param.name or "arg"
            param.metavar = _ARGUMENTS.get(name, name.upper()) + ("..." if param.nargs != 1 else "")
        shown = param.metavar if param.required else f"[{param.metavar}]"
        # Typer's usage line puts a required argument in braces ({WORKFLOW}).
        param._usage_display_name = lambda: shown
        # Typer prints the argument's Python type beside it; the name says enough.
        param.display_type_rich = _no_type


def tidy(command: Any) -> Any:
    """Fix the help of ``command`` (a Click command built by Typer) and every subcommand, in
    place; returns it."""
    for attr in ("help", "short_help"):
        setattr(command, attr, _text(getattr(command, attr, None)))
    for param in command.params:
        _tidy_param(param)
    help_option = command.get_help_option(command.context_class(command))
    if help_option is not None:
        _tidy_param(help_option)
    for sub in getattr(command, "commands", {}).values():
        tidy(sub)
    return command
