"""Source spans: where in which file a value was written, and how to show it with a caret."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """A place in a source file: 1-based line and column, plus the text of that line.

    Every node read from YAML carries one, so that any error or finding can point
    back at what the user wrote.
    """

    file: str
    line: int
    column: int
    text: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    def snippet(self) -> str:
        """The source line and a caret under the column, or an empty string."""
        if not self.text:
            return ""
        line = self.text.rstrip("\n").expandtabs(1)
        gutter = f"{self.line:>4} | "
        caret = " " * (len(gutter) + max(self.column - 1, 0)) + "^"
        return f"{gutter}{line}\n{caret}"


def file_span(file: str) -> Span:
    """A span for a whole file, used where no line applies (an empty or binary file)."""
    return Span(file, 1, 1)
