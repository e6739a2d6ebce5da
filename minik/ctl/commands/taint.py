"""`minictl taint nodes NAME key=value:Effect | key:Effect- | key-` with kubectl's rules and messages."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from minik.api.errors import StatusError
from minik.api.labels import validate_label_key, validate_label_value
from minik.api.resources import lookup
from minik.ctl.cli import Command, Parser
from minik.ctl.errors import Errors, error
from minik.ctl.session import Session

EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
Obj = dict[str, Any]


@dataclass(frozen=True)
class TaintSpec:
    key: str
    value: str
    effect: str  # "" only for removals that name the key alone


def parse_taint(spec: str, removal: bool) -> TaintSpec:
    """`key=value:Effect`, `key:Effect`, or (removal only) `key`."""
    head, sep, effect = spec.rpartition(":") if ":" in spec else (spec, "", "")
    if not sep:
        head = spec
    key, _, value = head.partition("=")
    if not sep and not removal:
        raise error(f"invalid taint spec: {spec}, unknown taint spec: {spec}")
    if sep and effect not in EFFECTS:
        raise error(f"invalid taint spec: {spec}, invalid taint effect: {effect}, unsupported taint effect")
    problems = validate_label_key(key) + (validate_label_value(value) if value else [])
    if problems:
        raise error(f"invalid taint spec: {spec}, {'; '.join(problems)}")
    return TaintSpec(key, value, effect)


def parse_args(args: list[str]) -> tuple[list[str], list[TaintSpec], list[TaintSpec]]:
    """Resources first, then taints to add and taints (ending in `-`) to remove."""
    resources: list[str] = []
    add: list[TaintSpec] = []
    remove: list[TaintSpec] = []
    for arg in args:
        if arg.endswith("-") and ("=" in arg or ":" in arg or resources[1:]):
            remove.append(parse_taint(arg[:-1], removal=True))
        elif "=" in arg or ":" in arg:
            add.append(parse_taint(arg, removal=False))
        else:
            if add or remove:
                raise error(f"all resources must be specified before taint changes: {arg}")
            resources.append(arg)
    return resources, add, remove


def reorganize_taints(node: Obj, overwrite: bool, add: list[TaintSpec],
                      remove: list[TaintSpec]) -> tuple[str, list[Obj]]:
    """The node's new taint list and the verb kubectl prints (tainted, untainted, modified)."""
    current: list[Obj] = list((node.get("spec") or {}).get("taints") or [])
    name = node["metadata"]["name"]
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    result = list(current)
    for t in add:
        clash = [c for c in result if c.get("key") == t.key and c.get("effect") == t.effect]
        if clash and not overwrite:
            raise error(f"node {name} already has {t.key} taint(s) with same effect(s) and --overwrite is false")
        result = [c for c in result if c not in clash]
        taint: Obj = {"key": t.key, "effect": t.effect}
        if t.value:
            taint["value"] = t.value
        if t.effect == "NoExecute":
            taint["timeAdded"] = now
        result.append(taint)
    for t in remove:
        kept = [c for c in result if not (c.get("key") == t.key and (not t.effect or c.get("effect") == t.effect))]
        if len(kept) == len(result):
            shown = f"{t.key}:{t.effect}" if t.effect else t.key
            raise error(f'taint "{shown}" not found')
        result = kept
    verb = "modified" if add and remove else "tainted" if add else "untainted"
    return verb, result


def configure(p: Parser) -> None:
    p.add_argument("args", nargs="*", help="NODE NAME KEY_1=VAL_1:TAINT_EFFECT_1 ... (KEY:EFFECT- removes)")
    p.add_bool("--overwrite", help="If true, allow taints to be overwritten.")
    p.add_bool("--all", help="Select all nodes in the cluster")
    p.add_argument("-l", "--selector", help="Selector (label query) to filter on")


def run(session: Session, args: argparse.Namespace) -> int:
    resources, add, remove = parse_args(args.args)
    nodes_r = lookup(resources[0].split("/")[0]) if resources else None
    if nodes_r is None or nodes_r.plural != "nodes":
        raise error("only nodes can be tainted: use `minictl taint nodes NAME KEY=VALUE:EFFECT`")
    if not add and not remove:
        raise error("at least one taint update is required")
    names = [r.split("/", 1)[1] for r in resources if "/" in r] + resources[1:]
    client = session.client
    if args.all or args.selector:
        items, _ = client.list_all(nodes_r, label_selector=args.selector)
        names += [str(i["metadata"]["name"]) for i in items]
    if not names:
        raise error("at least one resource name must be specified since 'all' parameter is not set")
    errors = Errors()
    for name in names:
        try:
            node = client.get(nodes_r, name)
            verb, taints = reorganize_taints(node, bool(args.overwrite), add, remove)
            client.patch(nodes_r, name, {"spec": {"taints": taints or None}})
        except StatusError as e:
            errors.status(e)
            continue
        print(f"node/{name} {verb}", flush=True)
    errors.raise_any()
    return 0


COMMAND = Command("taint", "Update the taints on one or more nodes", configure, run)
