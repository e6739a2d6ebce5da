"""`minictl apply -f`: client-side apply with the last-applied-configuration annotation.

Missing objects are created (carrying the annotation); existing ones get the three-way strategic
merge patch between their last-applied configuration, the new manifest and the live object.
"""

from __future__ import annotations

import argparse
import sys

from minik.api.errors import NotFoundError, StatusError
from minik.ctl.cli import Command, Parser, add_dry_run_flag, add_filename_flags, dry_run_suffix
from minik.ctl.errors import CtlError, Errors, error, with_source
from minik.ctl.manifests import Info, read_manifests, resolve_infos
from minik.ctl.session import Session
from minik.ctl.threeway import LAST_APPLIED, original_configuration, three_way_patch, with_last_applied


def configure(p: Parser) -> None:
    add_filename_flags(p, "that contains the configuration to apply")
    add_dry_run_flag(p)
    p.add_argument("-o", "--output", help="Output format; only 'name' is supported.")


def run(session: Session, args: argparse.Namespace) -> int:
    if not args.filename:
        raise error("must specify one of -f and -k")
    if args.dry_run == "server":
        raise error("--dry-run=server is not supported by minictl; use --dry-run=client")
    if args.output not in (None, "name"):
        raise error(f"unexpected -o output mode: {args.output}. We only support '-o name'")
    errors = Errors()
    infos = resolve_infos(read_manifests(args.filename, args.recursive), session.namespace,
                          session.explicit_namespace, errors)
    for info in infos:
        try:
            verb = apply_one(session, info, args.dry_run)
        except StatusError as e:
            errors.status(e)
            continue
        except CtlError as e:
            errors.ctl(e)
            continue
        line = info.ref if args.output == "name" else f"{info.ref} {verb}{dry_run_suffix(args.dry_run)}"
        print(line, flush=True)
    errors.raise_any()
    return 0


def apply_one(session: Session, info: Info, dry_run: str) -> str:
    """Create or patch one object; returns kubectl's verb (created, configured, unchanged)."""
    client = session.client
    modified = with_last_applied(info.obj)
    if not info.name:
        raise error(f'error when retrieving current configuration of: "{info.source}": '
                    "resource name may not be empty")
    try:
        current = client.get(info.resource, info.name, info.namespace)
    except NotFoundError:
        if dry_run != "client":
            try:
                client.create(info.resource, modified, info.namespace)
            except StatusError as e:
                raise with_source("creating", info.source, e) from e
        return "created"
    original = original_configuration(current)
    annotations = (current.get("metadata") or {}).get("annotations") or {}
    if LAST_APPLIED not in annotations:
        print(f"Warning: resource {info.resource.plural}/{info.name} is missing the {LAST_APPLIED} "
              "annotation which is required by kubectl apply. kubectl apply should only be used on resources "
              "created declaratively by either kubectl create --save-config or kubectl apply. The missing "
              "annotation will be patched automatically.", file=sys.stderr)
    patch = three_way_patch(original, modified, current)
    if not patch:
        return "unchanged"
    if dry_run != "client":
        try:
            client.patch(info.resource, info.name, patch, info.namespace, patch_type="strategic")
        except StatusError as e:
            raise with_source("applying patch", info.source, e) from e
    return "configured"


COMMAND = Command("apply", "Apply a configuration to a resource by file name or stdin", configure, run)
