"""Markdown helpers shared by the bench/_render_*.py modules (used only by bench/report.py)."""

from __future__ import annotations


def markdown_table(headers: list[str], rows: list[list]) -> str:
    """A pipe table; floats with 4 significant digits, or 3 in e-notation below 1e-3."""

    def cell(v) -> str:
        if isinstance(v, float):
            return f"{v:.4g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.2e}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def commands_section(commands: list[str]) -> list[str]:
    """Lines of a "### Commands" subsection: each distinct command once, in order, fenced."""
    return ["### Commands", "", "```", *dict.fromkeys(commands), "```"]


def source_commit(source: str) -> str:
    """``path: hash subject`` of `_common.git_head` as ``hash`` (and its local changes)."""
    head = source.split(": ", 1)[-1].split(" ", 1)[0]
    return head + (" with uncommitted changes" if source.endswith("(uncommitted changes)") else "")
