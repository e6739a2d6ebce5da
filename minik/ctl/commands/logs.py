"""`minictl logs POD [-c C] [-f] [--previous]`: stream pods/log from the apiserver."""

from __future__ import annotations

import argparse
import sys

import httpx

from minik.api.errors import NotFoundError
from minik.api.resources import lookup
from minik.ctl.cli import Command, Parser
from minik.ctl.errors import error
from minik.ctl.resources import pod_name
from minik.ctl.session import Session


def configure(p: Parser) -> None:
    p.add_argument("pod", nargs="?", help="POD or pod/POD")
    p.add_argument("container_arg", nargs="?", help="CONTAINER (same as -c)")
    p.add_argument("-c", "--container", help="Print the logs of this container")
    p.add_bool("-f", "--follow", help="Specify if the logs should be streamed.")
    p.add_bool("-p", "--previous", help="Print the logs for the previous instance of the container.")
    p.add_argument("--tail", type=int, default=-1, help="Lines of recent log file to display.")
    p.add_bool("--timestamps", help="Include timestamps on each line in the log output")
    p.add_argument("--since", help="Only return logs newer than a relative duration like 5s, 2m, or 3h.")
    p.add_argument("--since-time", help="Only return logs after a specific date (RFC3339).")
    p.add_argument("--limit-bytes", type=int, default=0, help="Maximum bytes of logs to return.")


def run(session: Session, args: argparse.Namespace) -> int:
    if not args.pod:
        raise error("expected 'logs [-f] [-p] (POD | TYPE/NAME) [-c CONTAINER]'.\nPOD or TYPE/NAME is a "
                    "required argument for the logs command\nSee 'minictl logs -h' for help and examples")
    name = pod_name(args.pod, "cannot get the logs from {kind}: minictl only reads pod logs")
    pods = lookup("pods")
    assert pods is not None
    client = session.client
    namespace = session.namespace
    container = args.container or args.container_arg
    try:
        pod = client.get(pods, name, namespace)
    except NotFoundError as e:
        raise error(f'error from server (NotFound): pods "{name}" not found in namespace "{namespace}"') from e
    if not container:
        names = [str(c.get("name")) for c in (pod.get("spec") or {}).get("containers") or []]
        if len(names) > 1:
            print(f'Defaulted container "{names[0]}" out of: {", ".join(names)}', file=sys.stderr)
        container = names[0] if names else None
    since_seconds = _since_seconds(args.since) if args.since else None
    params = {"container": container, "follow": bool(args.follow) or None, "sinceSeconds": since_seconds,
              "previous": bool(args.previous) or None, "tailLines": args.tail if args.tail >= 0 else None,
              "timestamps": bool(args.timestamps) or None, "sinceTime": args.since_time,
              "limitBytes": args.limit_bytes or None}
    timeout = httpx.Timeout(client.timeout, read=None) if args.follow else None
    resp = client.request("GET", pods.path(namespace, name, "log"), params=params, stream=True,
                          timeout=timeout)
    try:
        for chunk in resp.iter_bytes():
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
    except KeyboardInterrupt:
        return 1
    finally:
        resp.close()
    return 0


def _since_seconds(text: str) -> int:
    """--since: a Go duration (`30s`, `5m`, `1h30m`) rounded up to whole seconds, like kubectl."""
    total, number, seen = 0.0, "", False
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    i = 0
    while i < len(text):
        char = text[i]
        if char.isdigit() or char == ".":
            number += char
            i += 1
            continue
        unit = "ms" if text.startswith("ms", i) else char
        if unit not in units or not number:
            raise error(f'invalid argument "{text}" for "--since" flag: time: invalid duration "{text}"')
        total += float(number) * units[unit]
        number, seen = "", True
        i += len(unit)
    if number or not seen:
        raise error(f'invalid argument "{text}" for "--since" flag: time: missing unit in duration "{text}"')
    return max(1, int(-(-total // 1)))


COMMAND = Command("logs", "Print the logs for a container in a pod", configure, run)
