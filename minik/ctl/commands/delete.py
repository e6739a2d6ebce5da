"""`minictl delete`: by file, by TYPE NAME / TYPE/NAME, by selector or --all; waits until gone."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

from minik.api.errors import NotFoundError, StatusError
from minik.api.resources import Resource
from minik.ctl.cli import Command, Parser, add_dry_run_flag, add_filename_flags
from minik.ctl.errors import Errors, error, with_source
from minik.ctl.manifests import read_manifests, resolve_infos
from minik.ctl.resources import kind_string, parse_targets, require_targets
from minik.ctl.session import Session, parse_timeout

CASCADE = {"background": "Background", "true": "Background", "foreground": "Foreground",
           "orphan": "Orphan", "false": "Orphan"}


def configure(p: Parser) -> None:
    p.add_argument("args", nargs="*", help="TYPE NAME... | TYPE/NAME... | TYPE -l SEL | TYPE --all")
    add_filename_flags(p, "containing the resource to delete.")
    p.add_argument("-l", "--selector", help="Selector (label query) to filter on")
    p.add_argument("--field-selector", help="Selector (field query) to filter on")
    p.add_bool("--all", help="Delete all resources, in the namespace of the specified resource types.")
    p.add_bool("-A", "--all-namespaces", help="Delete the requested objects across all namespaces.")
    p.add_argument("--grace-period", type=int, default=-1,
                   help="Period of time in seconds given to the resource to terminate gracefully.")
    p.add_bool("--now", help="If true, resources are signaled for immediate shutdown (--grace-period=1).")
    p.add_bool("--force", help="Immediately remove resources from the API and bypass graceful deletion.")
    p.add_optional_value("--cascade", "background", default="background",
                         help='Must be "background", "orphan", or "foreground".')
    p.add_bool("--wait", default=True, help="If true, wait for resources to be gone before returning.")
    p.add_argument("--timeout", default="0", help="The length of time to wait before giving up on a delete.")
    p.add_bool("--ignore-not-found", help="Treat \"resource not found\" as a successful delete.")
    p.add_argument("-o", "--output", help="Output mode. Use \"-o name\" for shorter output.")
    add_dry_run_flag(p)


@dataclass
class _Victim:
    resource: Resource
    namespace: str | None
    name: str
    source: str = ""


def _grace_period(args: argparse.Namespace) -> int:
    """kubectl's rules: --now is 1s, --force alone is 0, --grace-period=0 without --force is 1."""
    grace = int(args.grace_period)
    if args.now:
        if grace != -1:
            raise error("--now and --grace-period cannot be specified together")
        grace = 1
    if grace == 0 and not args.force:
        grace = 1
    if args.force and grace < 0:
        grace = 0
    if args.force and grace > 0:
        raise error("--force and --grace-period greater than 0 cannot be specified together")
    return grace


def _victims(session: Session, args: argparse.Namespace, errors: Errors) -> list[_Victim]:
    if args.filename:
        infos = resolve_infos(read_manifests(args.filename, args.recursive), session.namespace,
                              session.explicit_namespace, errors)
        return [_Victim(i.resource, i.namespace, i.name, i.source) for i in infos]
    victims: list[_Victim] = []
    namespace = None if args.all_namespaces else session.namespace
    for target in parse_targets(args.args):
        r = target.resource
        ns = namespace if r.namespaced else None
        if target.names:
            named_ns = session.namespace if r.namespaced else None
            victims.extend(_Victim(r, named_ns, n) for n in target.names)
            continue
        if not (args.all or args.selector or args.field_selector):
            raise error("resource(s) were provided, but no name was specified")
        items, _ = session.client.list_all(r, ns, label_selector=args.selector,
                                           field_selector=args.field_selector)
        for item in items:
            meta = item.get("metadata") or {}
            victims.append(_Victim(r, meta.get("namespace") if r.namespaced else None, str(meta.get("name"))))
    return victims


def run(session: Session, args: argparse.Namespace) -> int:
    require_targets(args.args, args.filename)
    if args.output not in (None, "name"):
        raise error(f"unexpected -o output mode: {args.output}. We only support '-o name'")
    if args.all and args.selector:
        raise error("cannot set --all and --selector at the same time")
    if args.all and args.field_selector:
        raise error("cannot set --all and --field-selector at the same time")
    cascade = CASCADE.get(str(args.cascade).lower())
    if cascade is None:
        raise error(f'invalid cascade value ({args.cascade}). Must be "background", "foreground", or '
                    '"orphan".')
    grace = _grace_period(args)
    if grace == 0 and args.force:
        print("Warning: Immediate deletion does not wait for confirmation that the running resource has been "
              "terminated. The resource may continue to run on the cluster indefinitely.", file=sys.stderr)
    ignore_not_found = bool(args.ignore_not_found) or bool(args.all or args.selector or args.field_selector)
    errors = Errors()
    victims = _victims(session, args, errors)
    client = session.client
    deleted: list[tuple[_Victim, str]] = []
    for v in victims:
        if args.dry_run != "client":
            try:
                resp = client.delete(v.resource, v.name, v.namespace, propagation_policy=cascade,
                                     grace_period_seconds=grace if grace >= 0 else None)
            except NotFoundError as e:
                if not ignore_not_found:
                    errors.status(with_source("deleting", v.source, e))
                continue
            except StatusError as e:
                errors.status(with_source("deleting", v.source, e))
                continue
            uid = str(((resp.get("metadata") or {}).get("uid")) or ((resp.get("details") or {}).get("uid"))
                      or "")
            deleted.append((v, uid))
        _report(v, args, grace)
    if not victims and not errors:
        print("No resources found")
    if args.wait and deleted and args.dry_run == "none":
        _wait_deleted(session, deleted, parse_timeout(args.timeout) or 0.0)
    errors.raise_any()
    return 0


def _report(v: _Victim, args: argparse.Namespace, grace: int) -> None:
    kind = kind_string(v.resource)
    if args.output == "name":
        print(f"{kind}/{v.name}", flush=True)
        return
    op = "force deleted" if grace == 0 else "deleted"
    if args.dry_run == "client":
        op += " (dry run)"
    where = f" from {v.namespace} namespace" if v.namespace else ""
    print(f'{kind} "{v.name}" {op}{where}', flush=True)


def _wait_deleted(session: Session, deleted: list[tuple[_Victim, str]], timeout: float) -> None:
    """--wait: poll until every deleted object is gone (or replaced by one with another uid)."""
    deadline = time.monotonic() + (timeout if timeout > 0 else 7 * 24 * 3600)
    pending = list(deleted)
    delay = 0.2
    while pending:
        still: list[tuple[_Victim, str]] = []
        for v, uid in pending:
            try:
                obj = session.client.get(v.resource, v.name, v.namespace)
            except NotFoundError:
                continue
            if uid and (obj.get("metadata") or {}).get("uid") not in (None, uid):
                continue
            still.append((v, uid))
        pending = still
        if not pending:
            return
        if time.monotonic() >= deadline:
            v = pending[0][0]
            raise error(f"timed out waiting for the condition on {v.resource.plural}/{v.name}")
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


COMMAND = Command("delete", "Delete resources by file names, stdin, resources and names, or by resources "
                  "and label selector", configure, run)
