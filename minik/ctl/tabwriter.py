"""Go's text/tabwriter (with liggitt/tabwriter's RememberWidths), so columns line up like kubectl's.

kubectl's tables and describe output are tab-separated text run through this elastic-tabstop
algorithm; reproducing it exactly is what makes `minictl get` byte-identical to `kubectl get`.
A column block is a run of consecutive lines that have a cell in that column; each block gets its
own width (widest cell + padding, at least minwidth). The last cell of a line is never padded.
"""

from __future__ import annotations

from typing import Any, Protocol


class Out(Protocol):
    """Anything with write(str): a text stream, or a wrapper that tracks what was written."""

    def write(self, text: str, /) -> Any: ...


class TabWriter:
    """Buffer text; `flush()` aligns the buffered lines and writes them to `out`."""

    def __init__(self, out: Out, minwidth: int = 0, tabwidth: int = 8, padding: int = 1,
                 padchar: str = " ", remember_widths: bool = False) -> None:
        self.out = out
        self.minwidth = minwidth
        self.tabwidth = tabwidth
        self.padding = padding
        self.padchar = padchar
        self.remember_widths = remember_widths
        self.remembered: list[int] = []
        self._lines: list[list[str]] = [[]]
        self._cell: list[str] = []

    def write(self, text: str) -> None:
        start = 0
        for i, ch in enumerate(text):
            if ch in "\t\n":
                self._cell.append(text[start:i])
                self._lines[-1].append("".join(self._cell))
                self._cell = []
                start = i + 1
                if ch == "\n":
                    self._lines.append([])
        if start < len(text):
            self._cell.append(text[start:])

    def set_remembered_widths(self, widths: list[int] | None) -> None:
        self.remembered = list(widths or [])

    def flush(self) -> None:
        if self._cell:
            self._lines[-1].append("".join(self._cell))
            self._cell = []
        lines = self._lines
        parts: list[str] = []
        self._format(lines, [], 0, len(lines), parts)
        self.out.write("".join(parts))
        self._lines = [[]]

    def _format(self, lines: list[list[str]], widths: list[int], line0: int, line1: int,
                parts: list[str]) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            self._write_lines(lines, widths, line0, this, parts)
            line0 = this
            width = self.minwidth
            while this < line1:
                line = lines[this]
                if column >= len(line) - 1:
                    break
                width = max(width, len(line[column]) + self.padding)
                this += 1
            if self.remember_widths:
                if column < len(self.remembered):
                    width = max(width, self.remembered[column])
                    self.remembered[column] = width
                else:
                    self.remembered.append(width)
            widths.append(width)
            self._format(lines, widths, line0, this, parts)
            widths.pop()
            line0 = this
        self._write_lines(lines, widths, line0, line1, parts)

    def _write_lines(self, lines: list[list[str]], widths: list[int], line0: int, line1: int,
                     parts: list[str]) -> None:
        for i in range(line0, line1):
            for j, cell in enumerate(lines[i]):
                parts.append(cell)
                if j < len(widths):
                    parts.append(self.padchar * (widths[j] - len(cell)))
            if i + 1 < len(lines):
                parts.append("\n")


def kubectl_table_writer(out: Out) -> TabWriter:
    """printers.GetNewTabWriter: minwidth 6, padding 3, widths remembered across flushes."""
    return TabWriter(out, minwidth=6, tabwidth=4, padding=3, remember_widths=True)


def describe_writer(out: Out) -> TabWriter:
    """describe's tabbedString: tabwriter.Init(buf, 0, 8, 2, ' ', 0)."""
    return TabWriter(out, minwidth=0, tabwidth=8, padding=2)
