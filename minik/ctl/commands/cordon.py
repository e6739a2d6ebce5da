"""`minictl cordon`, `uncordon` and `drain`: mark nodes (un)schedulable and empty them, like kubectl."""

from __future__ import annotations

import argparse
import contextlib
import time
from typing import Any

from minik.api.errors import NotFoundError, StatusError
from minik.api.resources import Resource, lookup
from minik.ctl.cli import Command, Parser
from minik.ctl.errors import Errors, error
from minik.ctl.session import Session

Obj = dict[str, Any]


def _resource(name: str) -> Resource:
    r = lookup(name)
    assert r is not None
    return r


NODES = _resource("nodes")
PODS = _resource("pods")


def _node_names(session: Session, args: argparse.Namespace) -> list[str]:
    names = [a.split("/", 1)[1] if a.startswith(("node/", "nodes/")) else a for a in args.nodes]
    if args.selector:
        items, _ = session.client.list_all(NODES, label_selector=args.selector)
        names += [str(i["metadata"]["name"]) for i in items]
    if not names:
        raise error("resource(s) were provided, but no name was specified" if args.selector
                    else "you must specify at least one node name")
    return names


def set_schedulable(session: Session, name: str, unschedulable: bool) -> str:
    """Patch spec.unschedulable; the word kubectl prints (`cordoned`, `already cordoned`, ...)."""
    word = "cordoned" if unschedulable else "uncordoned"
    node = session.client.get(NODES, name)
    if bool((node.get("spec") or {}).get("unschedulable")) == unschedulable:
        return f"already {word}"
    session.client.patch(NODES, name, {"spec": {"unschedulable": True if unschedulable else None}})
    return word


def _configure(p: Parser) -> None:
    p.add_argument("nodes", nargs="*", help="NODE")
    p.add_argument("-l", "--selector", help="Selector (label query) to filter on")


def _run_cordon(session: Session, args: argparse.Namespace, unschedulable: bool) -> int:
    errors = Errors()
    for name in _node_names(session, args):
        try:
            print(f"node/{name} {set_schedulable(session, name, unschedulable)}", flush=True)
        except StatusError as e:
            errors.status(e)
    errors.raise_any()
    return 0


def _owner_kind(pod: Obj) -> str | None:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("kind"))
    return None


def pods_to_evict(pods: list[Obj], ignore_daemonsets: bool, force: bool) -> tuple[list[Obj], list[str]]:
    """kubectl drain's filters: skip mirror pods and (with the flag) DaemonSet pods; refuse the rest."""
    evict: list[Obj] = []
    problems: list[str] = []
    daemonset_pods: list[str] = []
    for pod in pods:
        meta = pod.get("metadata") or {}
        ref = f"{meta.get('namespace')}/{meta.get('name')}"
        if "kubernetes.io/config.mirror" in (meta.get("annotations") or {}):
            continue
        kind = _owner_kind(pod)
        if kind == "DaemonSet":
            if not ignore_daemonsets:
                problems.append(f"cannot delete DaemonSet-managed Pods (use --ignore-daemonsets to ignore): {ref}")
            else:
                daemonset_pods.append(ref)
            continue
        if kind is None and not force:
            problems.append("cannot delete Pods that declare no controller (use --force to override): " + ref)
            continue
        evict.append(pod)
    if daemonset_pods:
        print("Warning: ignoring DaemonSet-managed Pods: " + ", ".join(daemonset_pods), flush=True)
    return evict, problems


def _configure_drain(p: Parser) -> None:
    _configure(p)
    p.add_bool("--ignore-daemonsets", help="Ignore DaemonSet-managed pods.")
    p.add_bool("--force", help="Continue even if there are pods that do not declare a controller.")
    p.add_bool("--delete-emptydir-data", help="Continue even if there are pods using emptyDir.")
    p.add_argument("--grace-period", type=int, default=-1, help="Seconds given to each pod to terminate.")
    p.add_argument("--timeout", type=float, default=0, help="Give up after this many seconds (0: forever).")


def _run_drain(session: Session, args: argparse.Namespace) -> int:
    client = session.client
    for name in _node_names(session, args):
        print(f"node/{name} {set_schedulable(session, name, True)}", flush=True)
        pods, _ = client.list_all(PODS, None, field_selector=f"spec.nodeName={name}")
        pods = [p for p in pods if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        evict, problems = pods_to_evict(pods, bool(args.ignore_daemonsets), bool(args.force))
        if problems:
            details = "\n".join(f"error: {p}" for p in problems)
            raise error(f'unable to drain node "{name}" due to error: {"; ".join(problems)}, continuing command...'
                        f"\nThere are pending nodes to be drained:\n {name}\n{details}")
        grace = None if args.grace_period < 0 else args.grace_period
        for pod in evict:
            meta = pod["metadata"]
            print(f"evicting pod {meta['namespace']}/{meta['name']}", flush=True)
            with contextlib.suppress(NotFoundError):
                client.delete(PODS, meta["name"], meta["namespace"], grace_period_seconds=grace)
        deadline = time.monotonic() + args.timeout if args.timeout else None
        pending = {(p["metadata"]["namespace"], p["metadata"]["name"]) for p in evict}
        while pending:
            for ns, pod_name in sorted(pending):
                try:
                    client.get(PODS, pod_name, ns)
                except NotFoundError:
                    pending.discard((ns, pod_name))
                    print(f"pod/{pod_name} evicted", flush=True)
            if pending:
                if deadline is not None and time.monotonic() > deadline:
                    raise error(f"drain did not complete within {args.timeout:g}s")
                time.sleep(0.5)  # kubectl polls deletions the same way
        print(f"node/{name} drained", flush=True)
    return 0


CORDON = Command("cordon", "Mark node as unschedulable", _configure,
                 lambda session, args: _run_cordon(session, args, True))
UNCORDON = Command("uncordon", "Mark node as schedulable", _configure,
                   lambda session, args: _run_cordon(session, args, False))
DRAIN = Command("drain", "Drain node in preparation for maintenance", _configure_drain, _run_drain)
