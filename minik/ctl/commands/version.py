"""`minictl version`: client and server versions (the server's from /version)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from minik.apiserver.discovery import version_info
from minik.ctl.cli import Command, Parser
from minik.ctl.encoding import to_yaml
from minik.ctl.errors import error
from minik.ctl.session import Session


def configure(p: Parser) -> None:
    p.add_bool("--client", help="If true, shows client version only (no server required).")
    p.add_argument("-o", "--output", help="One of 'yaml' or 'json'.")


def run(session: Session, args: argparse.Namespace) -> int:
    if args.output not in (None, "json", "yaml"):
        raise error("--output must be 'yaml' or 'json'")
    info: dict[str, Any] = {"clientVersion": version_info()}
    server_error: Exception | None = None
    if not args.client:
        try:
            info["serverVersion"] = session.client.get_json("/version")
        except Exception as e:  # printed after the client version, like kubectl
            server_error = e
    if args.output == "json":
        sys.stdout.write(json.dumps(info, indent=2) + "\n")
    elif args.output == "yaml":
        sys.stdout.write(to_yaml(info))
    else:
        print(f"Client Version: {info['clientVersion']['gitVersion']}")
        if "serverVersion" in info:
            print(f"Server Version: {info['serverVersion'].get('gitVersion', '')}")
    if server_error is not None:
        raise server_error
    _warn_skew(info)
    return 0


def _warn_skew(info: dict[str, Any]) -> None:
    server = info.get("serverVersion")
    if not isinstance(server, dict):
        return
    try:
        client_minor = int(str(info["clientVersion"]["minor"]).rstrip("+"))
        server_minor = int(str(server.get("minor", "")).rstrip("+"))
        same_major = info["clientVersion"]["major"] == server.get("major")
    except (KeyError, ValueError):
        return
    if same_major and abs(client_minor - server_minor) > 1:
        print(f"Warning: version difference between client (1.{client_minor}) and server (1.{server_minor}) "
              "exceeds the supported minor version skew of +/-1", file=sys.stderr)


COMMAND = Command("version", "Print the client and server version information", configure, run)
