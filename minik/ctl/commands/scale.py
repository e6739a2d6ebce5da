"""`minictl scale TYPE NAME --replicas=N`: patch the object's scale subresource."""

from __future__ import annotations

import argparse

from minik.api.errors import NotFoundError, StatusError
from minik.api.resources import Resource
from minik.ctl.cli import Command, Parser, add_dry_run_flag, add_filename_flags, dry_run_suffix
from minik.ctl.errors import CtlError, Errors, error
from minik.ctl.manifests import read_manifests, resolve_infos
from minik.ctl.resources import object_ref, parse_targets
from minik.ctl.session import Session


def configure(p: Parser) -> None:
    p.add_argument("args", nargs="*", help="TYPE NAME | TYPE/NAME")
    p.add_argument("--replicas", type=int, required=True, help="The new desired number of replicas.")
    p.add_argument("--current-replicas", type=int, default=-1,
                   help="Precondition for current size; -1 for no condition.")
    p.add_argument("--resource-version", help="Precondition for resource version.")
    p.add_argument("-l", "--selector", help="Selector (label query) to filter on")
    p.add_bool("--all", help="Select all resources in the namespace of the specified resource types")
    p.add_argument("-o", "--output", help="Output format; only 'name' is supported.")
    add_filename_flags(p, "identifying the resource to set a new size")
    add_dry_run_flag(p)


def run(session: Session, args: argparse.Namespace) -> int:
    if args.replicas < 0:
        raise error("The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0")
    if not args.args and not args.filename:
        raise error("You must provide one or more resources by argument or filename.")
    client = session.client
    targets: list[tuple[Resource, str, str | None]] = []
    errors = Errors()
    if args.filename:
        for info in resolve_infos(read_manifests(args.filename, args.recursive), session.namespace,
                                  session.explicit_namespace, errors):
            targets.append((info.resource, info.name, info.namespace))
    for t in parse_targets(args.args):
        ns = session.namespace if t.resource.namespaced else None
        if t.names:
            targets.extend((t.resource, n, ns) for n in t.names)
        elif args.all or args.selector:
            items, _ = client.list_all(t.resource, ns, label_selector=args.selector)
            targets.extend((t.resource, str((i.get("metadata") or {}).get("name")), ns) for i in items)
        else:
            raise error("resource(s) were provided, but no name was specified")
    for r, name, ns in targets:
        try:
            if "scale" not in r.subresources:
                raise NotFoundError("the server could not find the requested resource")
            if args.current_replicas >= 0 or args.resource_version:
                scale = client.request("GET", r.path(ns, name, "scale")).json()
                current = int(((scale.get("spec") or {}).get("replicas")) or 0)
                if args.current_replicas >= 0 and current != args.current_replicas:
                    raise error(f"Expected replicas to be {args.current_replicas}, was {current}")
            if args.dry_run != "client":
                body: dict[str, object] = {"spec": {"replicas": args.replicas}}
                if args.resource_version:
                    body["metadata"] = {"resourceVersion": args.resource_version}
                client.patch(r, name, body, ns, patch_type="merge", subresource="scale")
        except StatusError as e:
            errors.status(e)
            continue
        except CtlError as e:
            errors.ctl(e)
            continue
        ref = object_ref(r, name)
        print(ref if args.output == "name" else f"{ref} scaled{dry_run_suffix(args.dry_run)}", flush=True)
    errors.raise_any()
    return 0


COMMAND = Command("scale", "Set a new size for a deployment or replica set", configure, run)
