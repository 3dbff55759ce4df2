"""Process identifiers: ``{node@host|uniq}`` (spec workflows.md §2)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PID:
    node: str
    host: str
    uniq: str

    def __str__(self) -> str:
        head = f"{self.node}@{self.host}" if self.node else self.host
        return f"{{{head}|{self.uniq}}}"


def parse_pid(text: str) -> PID | None:
    """Parse a PID string; ``None`` if it is not one (then it may be a registered name)."""
    if len(text) < 3 or text[0] != "{" or text[-1] != "}" or "|" not in text:
        return None
    head, _, uniq = text[1:-1].partition("|")
    node, at, host = head.partition("@")
    if not at:
        node, host = "", head
    return PID(node, host, uniq)


def format_uniq(counter: int) -> str:
    """Local uniq ids: ``0x`` and at least five hex digits."""
    return f"0x{counter:05x}"
