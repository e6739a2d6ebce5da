"""`minictl create -f FILE` (POST each object) and `minictl create namespace NAME`."""

from __future__ import annotations

import argparse

from minik.api.errors import StatusError
from minik.api.resources import lookup
from minik.ctl.cli import Command, Parser, add_dry_run_flag, add_filename_flags, dry_run_suffix
from minik.ctl.errors import Errors, error, with_source
from minik.ctl.manifests import read_manifests, resolve_infos
from minik.ctl.resources import object_ref
from minik.ctl.session import Session
from minik.ctl.threeway import with_last_applied


def configure(p: Parser) -> None:
    p.add_argument("args", nargs="*", help="namespace NAME (or use -f)")
    add_filename_flags(p, "to use to create the resource")
    add_dry_run_flag(p)
    p.add_bool("--save-config", help="Save the configuration in the last-applied annotation (for apply).")
    p.add_argument("-o", "--output", help="Output format; only 'name' is supported.")


def run(session: Session, args: argparse.Namespace) -> int:
    if args.args:
        return _create_namespace(session, args)
    if not args.filename:
        raise error("must specify one of -f and -k")
    errors = Errors()
    infos = resolve_infos(read_manifests(args.filename, args.recursive), session.namespace,
                          session.explicit_namespace, errors)
    for info in infos:
        obj = with_last_applied(info.obj) if args.save_config else info.obj
        if args.dry_run != "client":
            try:
                session.client.create(info.resource, obj, info.namespace)
            except StatusError as e:
                errors.status(with_source("creating", info.source, e))
                continue
        _report(info.ref, args)
    errors.raise_any()
    return 0


def _report(ref: str, args: argparse.Namespace) -> None:
    print(ref if args.output == "name" else f"{ref} created{dry_run_suffix(args.dry_run)}", flush=True)


def _create_namespace(session: Session, args: argparse.Namespace) -> int:
    kind, *rest = args.args
    r = lookup("namespaces")
    if kind not in ("namespace", "ns") or r is None:
        raise error(f'unknown command "{kind}" for "minictl create"')
    if len(rest) != 1:
        raise error(f"exactly one NAME is required, got {len(rest)}")
    obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": rest[0]}}
    if args.dry_run != "client":
        session.client.create(r, obj)
    _report(object_ref(r, rest[0]), args)
    return 0


COMMAND = Command("create", "Create a resource from a file or from stdin", configure, run)
