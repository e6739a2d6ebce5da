"""minictl's entry point: find the command, parse its flags, run it, and report errors like kubectl.

No Python traceback ever reaches the user: API errors print as `Error from server (...)`,
connection failures as kubectl's connection messages, anything else as `error: ...`; exit code 1.
"""

from __future__ import annotations

import contextlib
import sys

from minik.api.errors import StatusError
from minik.client.kubeconfig import ConfigError
from minik.client.rest import ConnectionFailed
from minik.ctl.cli import GLOBAL_VALUE_FLAGS, Command
from minik.ctl.commands import COMMANDS, GROUPS
from minik.ctl.errors import CtlError, format_status_error
from minik.ctl.session import Session

USAGE = """minictl controls a minik (Kubernetes-compatible) cluster, like kubectl.

Basic Commands:
  create          Create a resource from a file or from stdin
  run             Run a particular image on the cluster
  get             Display one or many resources
  delete          Delete resources by file names, stdin, resources and names, or by label selector

Deploy Commands:
  rollout         Manage the rollout of a resource
  scale           Set a new size for a deployment or replica set
  set             Set specific features on objects (set image)

Troubleshooting and Debugging Commands:
  describe        Show details of a specific resource or group of resources
  logs            Print the logs for a container in a pod
  exec            Execute a command in a container

Advanced Commands:
  apply           Apply a configuration to a resource by file name or stdin
  replace         Replace a resource by file name or stdin

Settings Commands:
  label           Update the labels on a resource
  annotate        Update the annotations on a resource

Other Commands:
  api-resources   Print the supported API resources on the server
  api-versions    Print the supported API versions on the server
  cluster-info    Display cluster information
  config          Modify kubeconfig files (view, get-contexts, current-context, use-context, set-context)
  version         Print the client and server version information

Usage:
  minictl [flags] [options]

Use "minictl <command> --help" for more information about a given command.
"""


def find_command(argv: list[str]) -> tuple[Command | None, list[str]]:
    """The command named in argv (flags may come first) and the remaining arguments."""
    words: list[int] = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok == "--":
            break
        if tok.startswith("-"):
            if tok in GLOBAL_VALUE_FLAGS:
                i += 1
            i += 1
            continue
        words.append(i)
        if len(words) == 2 or argv[words[0]] not in GROUPS:
            break
        i += 1
    if not words:
        return None, argv
    first = argv[words[0]]
    if first in GROUPS:
        if len(words) < 2:
            raise CtlError(_group_usage(first))
        name = f"{first} {argv[words[1]]}"
        if name not in COMMANDS:
            raise CtlError(f'error: unknown command "{argv[words[1]]}"\n'
                           f"See 'minictl {first} -h' for help and examples")
        rest = [a for j, a in enumerate(argv) if j not in words[:2]]
        return COMMANDS[name], rest
    if first not in COMMANDS:
        raise CtlError(f'error: unknown command "{first}" for "minictl"\nRun \'minictl --help\' for usage.')
    return COMMANDS[first], [a for j, a in enumerate(argv) if j != words[0]]


_GROUP_HELP = {
    "config": 'Modify kubeconfig files using subcommands like "minictl config use-context my-context".',
    "rollout": "Manage the rollout of one or many resources.",
    "set": "Configure application resources.",
}


def _group_usage(group: str) -> str:
    subs = sorted((n.split(" ", 1)[1], c.summary) for n, c in COMMANDS.items() if n.startswith(f"{group} "))
    width = max(len(n) for n, _ in subs) + 3
    lines = "".join(f"  {n.ljust(width)}{summary}\n" for n, summary in subs)
    return (f"{_GROUP_HELP.get(group, '')}\n\nAvailable Commands:\n{lines}\nUsage:\n"
            f"  minictl {group} SUBCOMMAND [options]\n\n"
            f"Use \"minictl {group} <command> --help\" for more information about a given command.")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    session: Session | None = None
    try:
        if not args or args[0] in ("-h", "--help", "help"):
            sys.stdout.write(USAGE)
            return 0
        command, rest = find_command(args)
        if command is None:
            sys.stdout.write(USAGE)
            return 0
        parsed = command.parser().parse(rest)
        session = Session.from_args(parsed)
        return command.run(session, parsed)
    except CtlError as e:
        _stderr(e.message)
        return e.code
    except StatusError as e:
        _stderr(format_status_error(e))
        return 1
    except ConnectionFailed as e:
        _stderr(e.message)
        return 1
    except ConfigError as e:
        _stderr(f"error: {e}")
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 1
    except SystemExit as e:  # argparse --help
        return int(e.code or 0) if isinstance(e.code, int | None) else 1
    except Exception as e:  # noqa: BLE001 - the last line of defence against tracebacks
        _stderr(f"error: {e}")
        return 1
    finally:
        if session is not None:
            session.close()
        with contextlib.suppress(BrokenPipeError, ValueError):
            sys.stdout.flush()


def _stderr(message: str) -> None:
    sys.stdout.flush()
    sys.stderr.write(message if message.endswith("\n") else message + "\n")
    sys.stderr.flush()


if __name__ == "__main__":
    sys.exit(main())
