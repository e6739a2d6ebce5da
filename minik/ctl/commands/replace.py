"""`minictl replace -f FILE`: PUT each object, taking the live resourceVersion when none is given."""

from __future__ import annotations

import argparse

from minik.api.errors import StatusError
from minik.ctl.cli import Command, Parser, add_dry_run_flag, add_filename_flags, dry_run_suffix
from minik.ctl.errors import Errors, error, with_source
from minik.ctl.manifests import read_manifests, resolve_infos
from minik.ctl.session import Session


def configure(p: Parser) -> None:
    add_filename_flags(p, "to use to replace the resource.")
    add_dry_run_flag(p)
    p.add_argument("-o", "--output", help="Output format; only 'name' is supported.")


def run(session: Session, args: argparse.Namespace) -> int:
    if not args.filename:
        raise error("must specify --filename to replace")
    errors = Errors()
    infos = resolve_infos(read_manifests(args.filename, args.recursive), session.namespace,
                          session.explicit_namespace, errors)
    client = session.client
    for info in infos:
        try:
            meta = info.obj.setdefault("metadata", {})
            if not meta.get("resourceVersion"):
                current = client.get(info.resource, info.name, info.namespace)
                meta["resourceVersion"] = (current.get("metadata") or {}).get("resourceVersion")
            if args.dry_run != "client":
                client.update(info.resource, info.obj)
        except StatusError as e:
            errors.status(with_source("replacing", info.source, e))
            continue
        print(info.ref if args.output == "name" else f"{info.ref} replaced{dry_run_suffix(args.dry_run)}",
              flush=True)
    errors.raise_any()
    return 0


COMMAND = Command("replace", "Replace a resource by file name or stdin", configure, run)
