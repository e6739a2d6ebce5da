"""`minictl label` and `minictl annotate`: edit metadata.labels / metadata.annotations by merge patch.

Both take `TYPE NAME... | TYPE/NAME... | TYPE -l SEL | TYPE --all` followed by `key=value` and
`key-` changes; changing an existing value needs --overwrite (kubectl's wording for each).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from typing import Any

from minik.api.errors import StatusError
from minik.api.labels import validate_label_value
from minik.api.resources import Resource
from minik.ctl.cli import Command, Parser, add_dry_run_flag, add_filename_flags, dry_run_suffix
from minik.ctl.encoding import go_json_compact
from minik.ctl.errors import CtlError, Errors, error
from minik.ctl.manifests import read_manifests, resolve_infos
from minik.ctl.output import parse_output, print_objects
from minik.ctl.resources import object_ref, parse_targets
from minik.ctl.session import Session

Obj = dict[str, Any]



@dataclass
class Changes:
    """Parsed `key=value` / `key-` arguments."""

    resources: list[str] = field(default_factory=list)
    set: dict[str, str] = field(default_factory=dict)
    remove: list[str] = field(default_factory=list)


def split_args(args: list[str], pair_type: str) -> tuple[list[str], list[str]]:
    """cmdutil.GetResourcesAndPairs: resources first, then KEY=VALUE / KEY- changes."""
    resources: list[str] = []
    pairs: list[str] = []
    found = False
    for arg in args:
        pair = ("=" in arg and not arg.startswith("=")) or (arg.endswith("-") and arg != "-")
        if pair:
            found = True
            pairs.append(arg)
        elif found:
            raise error(f"all resources must be specified before {pair_type} changes: {arg}")
        else:
            resources.append(arg)
    if not resources and pairs:
        resources.append(pairs.pop(0))
    return resources, pairs


def parse_changes(args: list[str], pair_type: str) -> Changes:
    """Split and validate the command's arguments (label values are checked client-side)."""
    resources, pairs = split_args(args, pair_type)
    changes = Changes(resources)
    invalid: list[str] = []
    for pair in pairs:
        if "=" in pair and not pair.startswith("="):
            key, value = pair.split("=", 1)
            changes.set[key] = value
        elif pair.endswith("-") and pair != "-":
            changes.remove.append(pair[:-1])
        else:
            invalid.append(pair)
    if invalid:
        raise error(f"invalid {pair_type} format: {', '.join(invalid)}")
    if pair_type == "label":
        for pair in pairs:
            if "=" in pair:
                _, value = pair.split("=", 1)
                problems = validate_label_value(value)
                if problems:
                    raise error(f'invalid label value: "{pair}": {";".join(problems)}')
    return changes


def apply_changes(current: dict[str, str] | None, changes: Changes, overwrite: bool,
                  pair_type: str) -> dict[str, str]:
    """The new map, or kubectl's overwrite error (only for values that would change)."""
    existing = dict(current or {})
    if not overwrite:
        clashes = sorted(k for k, v in changes.set.items() if k in existing and existing[k] != v)
        if clashes:
            if pair_type == "annotation":
                found = "; ".join(f"'{k}' already has a value ({existing[k]})" for k in clashes)
                raise error(f"--overwrite is false but found the following declared annotation(s): {found}")
            messages = [f"'{k}' already has a value ({existing[k]}), and --overwrite is false"
                        for k in clashes]
            if len(messages) == 1:
                raise error(messages[0])
            raise CtlError("\n".join(messages))
    updated = dict(existing)
    updated.update(changes.set)
    for key in changes.remove:
        if pair_type == "label" and key not in updated:
            print(f'label "{key}" not found.')
        updated.pop(key, None)
    return updated


def label_message(before: Obj, after: Obj, overwrite: bool) -> str:
    """updateDataChangeMsg: labeled, unlabeled (the JSON got shorter) or not labeled."""
    old, new = go_json_compact(before), go_json_compact(after)
    if old == new:
        return "not labeled"
    if not overwrite and len(new) < len(old):
        return "unlabeled"
    return "labeled"


def merge_patch(field_name: str, old: dict[str, str], new: dict[str, str]) -> Obj:
    """The JSON merge patch between two metadata maps (removed keys become null)."""
    diff: dict[str, str | None] = {k: v for k, v in new.items() if old.get(k) != v}
    diff.update({k: None for k in old if k not in new})
    return {"metadata": {field_name: diff}} if diff else {}


def configure_common(p: Parser, what: str) -> None:
    p.add_argument("args", nargs="*", help=f"TYPE NAME KEY_1=VAL_1 ... KEY_N=VAL_N (KEY- removes the {what})")
    add_filename_flags(p, f"identifying the resource to update the {what}")
    p.add_bool("--overwrite", help=f"If true, allow {what}s to be overwritten.")
    p.add_bool("--all", help="Select all resources, in the namespace of the specified resource types")
    p.add_bool("-A", "--all-namespaces", help="If true, check the specified action in all namespaces.")
    p.add_argument("-l", "--selector", help="Selector (label query) to filter on")
    p.add_argument("--field-selector", help="Selector (field query) to filter on")
    p.add_bool("--list", help=f"If true, display the {what}s for a given resource.")
    p.add_argument("-o", "--output", help="Output format: name, yaml, json, ...")
    add_dry_run_flag(p)


@dataclass
class _Target:
    resource: Resource
    namespace: str | None
    name: str


def _targets(session: Session, args: argparse.Namespace, resources: list[str], errors: Errors) -> list[_Target]:
    if args.filename:
        infos = resolve_infos(read_manifests(args.filename, args.recursive), session.namespace,
                              session.explicit_namespace, errors)
        return [_Target(i.resource, i.namespace, i.name) for i in infos]
    out: list[_Target] = []
    namespace = None if args.all_namespaces else session.namespace
    for t in parse_targets(resources):
        r = t.resource
        if t.names:
            if args.selector:
                raise error("name cannot be provided when a selector is specified")
            out.extend(_Target(r, session.namespace if r.namespaced else None, n) for n in t.names)
            continue
        if not (args.all or args.selector or args.field_selector):
            raise error("resource(s) were provided, but no name was specified")
        items, _ = session.client.list_all(r, namespace if r.namespaced else None,
                                           label_selector=args.selector, field_selector=args.field_selector)
        for item in items:
            meta = item.get("metadata") or {}
            out.append(_Target(r, meta.get("namespace") if r.namespaced else None, str(meta.get("name"))))
    return out


def run_edit(session: Session, args: argparse.Namespace, pair_type: str) -> int:
    """Shared body of label and annotate."""
    field_name = "labels" if pair_type == "label" else "annotations"
    changes = parse_changes(args.args, pair_type)
    if args.all and args.selector:
        raise error("cannot set --all and --selector at the same time")
    if not changes.resources and not args.filename:
        raise error("one or more resources must be specified as <resource> <name> or <resource>/<name>")
    if not changes.set and not changes.remove and not args.list:
        raise error(f"at least one {pair_type} update is required")
    both = [k for k in changes.remove if k in changes.set]
    if both:
        if pair_type == "label":
            raise error("can not both modify and remove a label in the same command")
        raise error("can not both modify and remove the following annotation(s) in the same command: "
                    + ", ".join(both))
    fmt = parse_output(args.output) if args.output and args.output != "name" else None
    client = session.client
    errors = Errors()
    for target in _targets(session, args, changes.resources, errors):
        try:
            obj = client.get(target.resource, target.name, target.namespace)
        except StatusError as e:
            errors.status(e)
            continue
        meta = obj.get("metadata") or {}
        current = dict(meta.get(field_name) or {})
        if args.list:
            for key in sorted(current):
                print(f"{key}={current[key]}")
            continue
        try:
            updated = apply_changes(current, changes, bool(args.overwrite), pair_type)
        except CtlError as e:
            errors.ctl(e)
            continue
        after = {**obj, "metadata": {**meta, field_name: updated}}
        patch = merge_patch(field_name, current, updated)
        result = after
        if patch and args.dry_run != "client":
            try:
                result = client.patch(target.resource, target.name, patch, target.namespace)
            except StatusError as e:
                errors.status(e)
                continue
        ref = object_ref(target.resource, target.name)
        if fmt is not None:
            print_objects(fmt, [result], True, sys.stdout)
        elif args.output == "name":
            print(ref)
        else:
            verb = label_message(obj, after, bool(args.overwrite)) if pair_type == "label" else "annotated"
            print(f"{ref} {verb}{dry_run_suffix(args.dry_run)}", flush=True)
    errors.raise_any()
    return 0


def _configure_label(p: Parser) -> None:
    configure_common(p, "label")


def _configure_annotate(p: Parser) -> None:
    configure_common(p, "annotation")


def _run_label(session: Session, args: argparse.Namespace) -> int:
    return run_edit(session, args, "label")


def _run_annotate(session: Session, args: argparse.Namespace) -> int:
    return run_edit(session, args, "annotation")


LABEL = Command("label", "Update the labels on a resource", _configure_label, _run_label)
ANNOTATE = Command("annotate", "Update the annotations on a resource", _configure_annotate, _run_annotate)
