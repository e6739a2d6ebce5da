"""`minictl describe`: fetch an object and what relates to it (events, pods, replica sets), print text.

Events are found like kubectl does, by field selector on involvedObject name/namespace/uid; when
the server cannot filter on those fields, the namespace's events are filtered here instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from typing import Any

from minik.api.errors import BadRequestError, NotFoundError, StatusError
from minik.api.resources import Resource, lookup
from minik.apiserver.printers import selector_string
from minik.ctl.cli import Command, Parser, add_filename_flags
from minik.ctl.describe.apps import describe_daemonset, describe_deployment, describe_replicaset
from minik.ctl.describe.generic import describe_generic, describe_namespace
from minik.ctl.describe.node import describe_node
from minik.ctl.describe.pod import describe_pod
from minik.ctl.describe.service import describe_endpoints, describe_service
from minik.ctl.errors import Errors, error
from minik.ctl.manifests import read_manifests, resolve_infos
from minik.ctl.resources import parse_targets
from minik.ctl.session import Session

Obj = dict[str, Any]
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"


def configure(p: Parser) -> None:
    p.add_argument("args", nargs="*", help="TYPE [NAME_PREFIX] | TYPE/NAME")
    p.add_argument("-l", "--selector", help="Selector (label query) to filter on")
    p.add_bool("-A", "--all-namespaces", help="List the requested object(s) across all namespaces.")
    p.add_bool("--show-events", default=True, help="If true, display events related to the described object.")
    add_filename_flags(p, "containing the resource to describe")


def _resource(name: str) -> Resource:
    r = lookup(name)
    assert r is not None, name
    return r


class Describer:
    """Fetches the related objects a description needs, then renders it."""

    def __init__(self, session: Session, show_events: bool) -> None:
        self.client = session.client
        self.show_events = show_events
        self.now = datetime.now(UTC)

    def events(self, obj: Obj, uid: str | None = None) -> list[Obj] | None:
        """searchEvents: by involvedObject name, namespace, uid (and kind, except for pods)."""
        if not self.show_events:
            return None
        meta = obj.get("metadata") or {}
        name, namespace = str(meta.get("name", "")), str(meta.get("namespace") or "")
        uid = uid if uid is not None else str(meta.get("uid") or "")
        kind = "" if obj.get("kind") == "Pod" else str(obj.get("kind") or "")
        events = _resource("events")
        selector = f"involvedObject.name={name},involvedObject.namespace={namespace}"
        if kind:
            selector += f",involvedObject.kind={kind}"
        if uid:
            selector += f",involvedObject.uid={uid}"
        try:
            items, _ = self.client.list_all(events, namespace or None, field_selector=selector)
            return items
        except BadRequestError:
            items, _ = self.client.list_all(events, namespace or None)
        except StatusError:
            return []
        matches = []
        for e in items:
            inv = e.get("involvedObject") or {}
            if inv.get("name") == name and (inv.get("namespace") or "") == namespace \
                    and (not uid or inv.get("uid") == uid) and (not kind or inv.get("kind") == kind):
                matches.append(e)
        return matches

    def describe(self, r: Resource, obj: Obj) -> str:
        meta = obj.get("metadata") or {}
        ns = meta.get("namespace")
        if r.plural == "pods":
            uid = (meta.get("annotations") or {}).get(MIRROR_POD_ANNOTATION)
            return describe_pod(obj, self.events(obj, uid), self.now)
        if r.plural == "nodes":
            return self._node(obj)
        if r.plural == "namespaces":
            return describe_namespace(obj)
        if r.plural == "services":
            try:
                endpoints: Obj | None = self.client.get(_resource("endpoints"), str(meta.get("name")), ns)
            except StatusError:
                endpoints = None
            return describe_service(obj, endpoints, self.events(obj), self.now)
        if r.plural == "endpoints":
            return describe_endpoints(obj, self.events(obj), self.now)
        if r.plural == "deployments":
            old, new = self._replica_sets(obj)
            return describe_deployment(obj, old, new, self.events(obj), self.now)
        if r.plural == "replicasets":
            return describe_replicaset(obj, self._pods(obj), self.events(obj), self.now)
        if r.plural == "daemonsets":
            return describe_daemonset(obj, self._pods(obj), self.events(obj), self.now)
        return describe_generic(obj, self.events(obj), self.now)

    def _pods(self, owner: Obj) -> list[Obj]:
        selector = selector_string((owner.get("spec") or {}).get("selector"))
        ns = (owner.get("metadata") or {}).get("namespace")
        try:
            items, _ = self.client.list_all(_resource("pods"), ns, label_selector=selector or None)
        except StatusError:
            return []
        return items

    def _replica_sets(self, deploy: Obj) -> tuple[list[Obj], list[Obj]]:
        """Old and new ReplicaSets of a Deployment: owned ones; new is the one matching its template."""
        meta = deploy.get("metadata") or {}
        selector = selector_string((deploy.get("spec") or {}).get("selector"))
        try:
            items, _ = self.client.list_all(_resource("replicasets"), meta.get("namespace"),
                                            label_selector=selector or None)
        except StatusError:
            return [], []
        owned = [rs for rs in items if any(ref.get("controller") and ref.get("uid") == meta.get("uid")
                                           for ref in (rs.get("metadata") or {}).get("ownerReferences") or [])]
        template = _template_key((deploy.get("spec") or {}).get("template"))
        new = [rs for rs in owned if _template_key((rs.get("spec") or {}).get("template")) == template]
        if not new and owned:
            new = [max(owned, key=_revision)]
        new = new[:1]
        old = [rs for rs in owned if rs not in new]
        return old, new

    def _node(self, node: Obj) -> str:
        meta = node.get("metadata") or {}
        name = str(meta.get("name", ""))
        pods: list[Obj] | None
        pods_r = _resource("pods")
        try:
            try:
                items, _ = self.client.list_all(pods_r, None, field_selector=f"spec.nodeName={name},"
                                                "status.phase!=Succeeded,status.phase!=Failed")
            except BadRequestError:
                items, _ = self.client.list_all(pods_r, None, field_selector=f"spec.nodeName={name}")
            pods = [p for p in items if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
        except StatusError:
            pods = None
        lease: Obj | str
        try:
            lease = self.client.get(_resource("leases"), name, "kube-node-lease")
        except StatusError as e:
            lease = e.message
        events = None
        if self.show_events:
            by_uid = self.events(node) or []
            by_name = self.events(node, uid=name) or []
            seen = {json.dumps(e.get("metadata", {}).get("uid")) for e in by_uid}
            events = by_uid + [e for e in by_name if json.dumps(e.get("metadata", {}).get("uid")) not in seen]
        return describe_node(node, pods, events, lease, self.now)


def _template_key(template: Obj | None) -> str:
    data = json.loads(json.dumps(template or {}))
    labels = (data.get("metadata") or {}).get("labels") or {}
    labels.pop("pod-template-hash", None)
    return json.dumps(data, sort_keys=True)


def _revision(rs: Obj) -> int:
    value = ((rs.get("metadata") or {}).get("annotations") or {}).get("deployment.kubernetes.io/revision", "0")
    try:
        return int(value)
    except ValueError:
        return 0


def _objects(session: Session, args: argparse.Namespace, errors: Errors) -> tuple[list[tuple[Resource, Obj]], bool]:
    """What to describe, and whether the names were prefix matches (errors are collected)."""
    client = session.client
    found: list[tuple[Resource, Obj]] = []
    prefixed = False
    if args.filename:
        infos = resolve_infos(read_manifests(args.filename, args.recursive), session.namespace,
                              session.explicit_namespace, errors)
        for info in infos:
            try:
                found.append((info.resource, client.get(info.resource, info.name, info.namespace)))
            except StatusError as e:
                errors.status(e)
        return found, False
    if not args.args:
        raise error("You must specify the type of resource to describe. Use \"minictl api-resources\" for a "
                    "complete list of supported resources.")
    namespace = None if args.all_namespaces else session.namespace
    prefix_match = len(args.args) == 2 and "/" not in args.args[0]
    for target in parse_targets(args.args):
        r = target.resource
        ns = namespace if r.namespaced else None
        if not target.names:
            items, _ = client.list_all(r, ns, label_selector=args.selector)
            found.extend((r, i) for i in sorted(items, key=_sort_key))
            continue
        for name in target.names:
            try:
                found.append((r, client.get(r, name, session.namespace if r.namespaced else None)))
            except NotFoundError as e:
                matches: list[Obj] = []
                if prefix_match:
                    items, _ = client.list_all(r, ns, label_selector=args.selector)
                    matches = [i for i in sorted(items, key=_sort_key)
                               if str((i.get("metadata") or {}).get("name", "")).startswith(name)]
                if not matches:
                    errors.status(e)
                prefixed = prefixed or bool(matches)
                found.extend((r, m) for m in matches)
            except StatusError as e:
                errors.status(e)
    return found, prefixed


def _sort_key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return str(meta.get("namespace") or ""), str(meta.get("name") or "")


def run(session: Session, args: argparse.Namespace) -> int:
    errors = Errors()
    found, prefixed = _objects(session, args, errors)
    # kubectl only looks events up when it describes a single object (never for prefix matches);
    # prefix-matched descriptions are each followed by a newline.
    describer = Describer(session, bool(args.show_events) and not prefixed and len(found) == 1)
    first = True
    for r, obj in found:
        text = describer.describe(r, obj)
        if prefixed:
            sys.stdout.write(text + "\n")
        else:
            sys.stdout.write(text if first else "\n\n" + text)
        sys.stdout.flush()
        first = False
    if not found and not errors:
        if args.all_namespaces:
            print("No resources found", file=sys.stderr)
        else:
            print(f"No resources found in {session.namespace} namespace.", file=sys.stderr)
    errors.raise_any()
    return 0


COMMAND = Command("describe", "Show details of a specific resource or group of resources", configure, run)
