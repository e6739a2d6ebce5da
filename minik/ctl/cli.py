"""Command-line conventions of kubectl (cobra/pflag) on top of argparse.

Flags may appear anywhere (before or after the command and its arguments), booleans accept
`--flag=true|false`, abbreviations are not accepted, and parse errors are worded like pflag's
(`unknown flag: --foo`, `flag needs an argument: --namespace`) with exit code 1.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from minik.ctl.errors import UsageError

_BOOL_ACTIONS = (argparse._StoreTrueAction, argparse._StoreFalseAction, argparse._HelpAction)

# Global flags that take a value (so the word after them is not the command name).
GLOBAL_VALUE_FLAGS = frozenset({"--kubeconfig", "--context", "-n", "--namespace", "-s", "--server",
                                "--token", "--request-timeout", "--cluster", "--user"})


class Parser(argparse.ArgumentParser):
    """One command's parser; errors become kubectl-style UsageErrors."""

    def __init__(self, command: str, description: str = "") -> None:
        super().__init__(prog=f"minictl {command}", description=description, allow_abbrev=False)
        self.command = command
        self._bools: set[str] = set()
        self._optional_values: dict[str, str] = {}

    def error(self, message: str) -> NoReturn:
        text = _pflag_message(message)
        # cobra reports missing required flags without the usage hint.
        raise UsageError(text, self.command, hint=not text.startswith("required flag(s)"))

    def add_bool(self, *names: str, default: bool = False, help: str = "", dest: str | None = None) -> None:
        """A pflag bool: `--x`, `--x=true`, `--x=false` (the last two rewritten before parsing)."""
        longs = [n for n in names if n.startswith("--")]
        target = dest or longs[0][2:].replace("-", "_")
        self.add_argument(*names, dest=target, action="store_true", default=default, help=help)
        for name in longs:
            self._bools.add(name)
            self.add_argument(f"{name}=false", dest=target, action="store_false", help=argparse.SUPPRESS)

    def add_optional_value(self, name: str, implied: str, **kw: Any) -> None:
        """A flag with pflag's NoOptDefVal: bare `--cascade` means `--cascade=background`."""
        self._optional_values[name] = implied
        self.add_argument(name, **kw)

    def parse(self, argv: list[str]) -> argparse.Namespace:
        return self.parse_intermixed_args(self._rewrite(argv))

    def _rewrite(self, argv: list[str]) -> list[str]:
        out: list[str] = []
        passthrough = False
        if argv and not passthrough:
            last = argv[-1]
            action = self._option_string_actions.get(last)
            if action is not None and action.nargs is None and not isinstance(action, _BOOL_ACTIONS) \
                    and last not in self._optional_values:
                shown = f"'{last[1:]}' in {last}" if not last.startswith("--") else last
                raise UsageError(f"flag needs an argument: {shown}", self.command)
        for tok in argv:
            if passthrough:
                out.append(tok)
                continue
            if tok == "--":
                passthrough = True
                out.append(tok)
                continue
            name, sep, value = tok.partition("=")
            if sep and name in self._bools:
                lowered = value.lower()
                if lowered in ("true", "1", "t"):
                    out.append(name)
                elif lowered in ("false", "0", "f"):
                    out.append(f"{name}=false")
                else:
                    raise UsageError(f'invalid argument "{value}" for "{name}" flag: strconv.ParseBool: '
                                     f'parsing "{value}": invalid syntax', self.command)
                continue
            if not sep and tok in self._optional_values:
                out.append(f"{tok}={self._optional_values[tok]}")
                continue
            out.append(tok)
        return out


def _pflag_message(message: str) -> str:
    m = re.match(r"unrecognized arguments: (.*)", message)
    if m:
        tokens = m.group(1).split()
        for tok in tokens:
            if tok.startswith("--"):
                return f"unknown flag: {tok.split('=')[0]}"
            if tok.startswith("-") and len(tok) > 1:
                return f"unknown shorthand flag: '{tok[1]}' in {tok}"
        return f"unexpected arguments: {' '.join(tokens)}"
    m = re.match(r"argument ([^:]+): expected one argument", message)
    if m:
        return f"flag needs an argument: {_long(m.group(1))}"
    m = re.match(r"argument ([^:]+): invalid (int|float) value: '(.*)'", message)
    if m:
        fn = "ParseInt" if m.group(2) == "int" else "ParseFloat"
        return (f'invalid argument "{m.group(3)}" for "{_long(m.group(1))}" flag: strconv.{fn}: '
                f'parsing "{m.group(3)}": invalid syntax')
    m = re.match(r"argument ([^:]+): invalid choice: '(.*)' \(choose from (.*)\)", message)
    if m:
        return f'invalid argument "{m.group(2)}" for "{_long(m.group(1))}" flag: must be one of {m.group(3)}'
    m = re.match(r"the following arguments are required: (.*)", message)
    if m:
        names = ", ".join(f'"{n.strip().lstrip("-")}"' for n in m.group(1).split(","))
        return f"required flag(s) {names} not set"
    return message


def _long(spec: str) -> str:
    names = spec.split("/")
    longs = [n for n in names if n.startswith("--")]
    return longs[0] if longs else names[0]


def add_global_flags(p: Parser) -> None:
    """kubectl's persistent flags (the subset minictl honours)."""
    p.add_argument("--kubeconfig", help="Path to the kubeconfig file to use for CLI requests.")
    p.add_argument("--context", help="The name of the kubeconfig context to use")
    p.add_argument("-n", "--namespace", help="If present, the namespace scope for this CLI request")
    p.add_argument("-s", "--server", help="The address and port of the Kubernetes API server")
    p.add_argument("--token", help="Bearer token for authentication to the API server")
    p.add_bool("--insecure-skip-tls-verify",
               help="If true, the server's certificate will not be checked for validity.")
    p.add_argument("--request-timeout", default=None,
                   help="The length of time to wait before giving up on a single server request.")


def add_filename_flags(p: Parser, what: str) -> None:
    p.add_argument("-f", "--filename", action="append", default=[],
                   help=f"Filename, directory, or URL to files {what}")
    p.add_bool("-R", "--recursive", help="Process the directory used in -f, --filename recursively.")


def add_dry_run_flag(p: Parser) -> None:
    p.add_optional_value("--dry-run", "client", choices=["none", "client", "server"], default="none",
                         help='Must be "none", "server", or "client".')


def dry_run_suffix(mode: str) -> str:
    """What kubectl appends to `created`, `deleted`, ... in dry-run mode."""
    return {"client": " (dry run)", "server": " (server dry run)"}.get(mode, "")


@dataclass
class Command:
    """A minictl command: its name (`get`, `config view`), flags and implementation."""

    name: str
    summary: str
    configure: Callable[[Parser], None]
    run: Callable[..., int]

    def parser(self) -> Parser:
        p = Parser(self.name, self.summary)
        add_global_flags(p)
        self.configure(p)
        return p
