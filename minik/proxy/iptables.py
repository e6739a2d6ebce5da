"""Running iptables-save / iptables-restore / iptables, optionally inside one network namespace.

Everything minik does to iptables goes through here, so a test (or a node that is a network
namespace) can point the whole proxy at a namespace with one argument and the host's tables are
never touched. Commands run through `nsenter --net=...`, which enters only the network namespace.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

TABLES = ("filter", "nat")
NETNS_DIR = Path("/run/netns")
_TABLE_LINE = re.compile(r"^\*(\S+)$")
_CHAIN_LINE = re.compile(r"^:(\S+) ")
_RULE_LINE = re.compile(r"^-A (\S+) (.*)$")
_JUMP = re.compile(r"(?:^| )-[jg] (\S+)")


class IPTablesError(RuntimeError):
    """An iptables command failed; the message carries the command and its stderr."""


def netns_path(netns: str) -> str:
    """A netns argument as a path: a bare name means /run/netns/<name> (like `ip netns`)."""
    return netns if "/" in netns else str(NETNS_DIR / netns)


@dataclass
class SavedTable:
    """What `iptables-save` shows for one table: chain names and `-A` rules in order."""

    chains: set[str] = field(default_factory=set)
    rules: list[tuple[str, str]] = field(default_factory=list)  # (chain, rest of the rule)

    def jumps(self, chain: str, target: str) -> list[str]:
        """The rules of `chain` that jump to `target` (their text after `-A chain `)."""
        return [rest for c, rest in self.rules if c == chain and jump_target(rest) == target]


def jump_target(rule: str) -> str | None:
    match = _JUMP.search(rule)
    return match.group(1) if match else None


def parse_save(text: str) -> dict[str, SavedTable]:
    """Parse `iptables-save` output into {table: SavedTable}."""
    tables: dict[str, SavedTable] = {}
    current: SavedTable | None = None
    for line in text.splitlines():
        if match := _TABLE_LINE.match(line):
            current = tables.setdefault(match.group(1), SavedTable())
        elif current is None:
            continue
        elif match := _CHAIN_LINE.match(line):
            current.chains.add(match.group(1))
        elif match := _RULE_LINE.match(line):
            current.rules.append((match.group(1), match.group(2)))
    return tables


@dataclass(frozen=True)
class IPTables:
    """iptables commands for the current network namespace, or for `netns` (name or path)."""

    netns: str | None = None
    timeout: float = 60.0

    def _argv(self, argv: list[str]) -> list[str]:
        if self.netns:
            return ["nsenter", f"--net={netns_path(self.netns)}", "--", *argv]
        return argv

    def _run(self, argv: list[str], stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        full = self._argv(argv)
        try:
            result = subprocess.run(full, input=stdin, capture_output=True, text=True, timeout=self.timeout)
        except (OSError, subprocess.TimeoutExpired) as error:
            raise IPTablesError(f"{' '.join(argv)}: {error}") from error
        if check and result.returncode != 0:
            raise IPTablesError(f"{' '.join(argv)} failed (exit {result.returncode}): {result.stderr.strip()}")
        return result

    def save(self, tables: Iterable[str] = TABLES) -> dict[str, SavedTable]:
        """The current state of `tables` (absent tables come back empty)."""
        saved: dict[str, SavedTable] = {}
        for table in tables:
            text = self._run(["iptables-save", "-t", table]).stdout
            saved[table] = parse_save(text).get(table, SavedTable())
        return saved

    def restore(self, payload: str) -> None:
        """Apply a restore payload atomically per table, leaving chains it does not name alone."""
        self._run(["iptables-restore", "-w", "--noflush"], stdin=payload)

    def check_rule(self, table: str, chain: str, rule: list[str]) -> bool:
        """`iptables -C`: whether this exact rule exists (False too when the chain is missing)."""
        return self._run(["iptables", "-w", "-t", table, "-C", chain, *rule], check=False).returncode == 0

    def exists(self) -> bool:
        """Whether the namespace (if any) is there and iptables answers in it."""
        return self._run(["iptables", "-w", "-t", "filter", "-S", "INPUT"], check=False).returncode == 0
