"""`minictl cluster-info`: where the control plane answers."""

from __future__ import annotations

import argparse

from minik.ctl.cli import Command, Parser
from minik.ctl.session import Session


def configure(p: Parser) -> None:
    del p


def run(session: Session, args: argparse.Namespace) -> int:
    session.client.get_json("/version")  # fails like kubectl when the server is unreachable
    print(f"Kubernetes control plane is running at {session.config().server}")
    print()
    print("To further debug and diagnose cluster problems, use 'kubectl cluster-info dump'.")
    return 0


COMMAND = Command("cluster-info", "Display cluster information", configure, run)
