"""`minictl rollout status|history|undo|restart|pause|resume`: manage a rollout like kubectl.

Deployments keep their history in ReplicaSets (the `deployment.kubernetes.io/revision`
annotation), DaemonSets in ControllerRevisions; undo re-applies the old template, and the
controllers turn that into a new revision.
"""

from __future__ import annotations

import argparse
import copy
import io
import math
import sys
import time
from datetime import UTC, datetime
from typing import Any

from minik.api.errors import StatusError
from minik.api.resources import Resource, lookup
from minik.client.rest import Client
from minik.controllers import deployment_util as du
from minik.ctl.cli import Command, Parser
from minik.ctl.errors import CtlError, Errors, error
from minik.ctl.resources import object_ref, parse_targets, require_targets
from minik.ctl.session import Session, parse_timeout
from minik.ctl.tabwriter import describe_writer

Obj = dict[str, Any]

RESTARTED_AT_ANNOTATION = "kubectl.kubernetes.io/restartedAt"
ROLLBACK_SUCCESS = "rolled back"
ROLLBACK_SKIPPED = "skipped rollback"


def _resource(name: str) -> Resource:
    r = lookup(name)
    assert r is not None
    return r


DEPLOYMENTS, DAEMONSETS = _resource("deployments"), _resource("daemonsets")
REPLICASETS, REVISIONS = _resource("replicasets"), _resource("controllerrevisions")


def _targets(session: Session, args: argparse.Namespace) -> list[tuple[Resource, str, str | None]]:
    require_targets(args.args, [])
    out: list[tuple[Resource, str, str | None]] = []
    for t in parse_targets(args.args):
        ns = session.namespace if t.resource.namespaced else None
        if not t.names:
            raise error("resource(s) were provided, but no name was specified")
        out.extend((t.resource, n, ns) for n in t.names)
    return out


def _group_resource(r: Resource) -> str:
    return r.group_resource


def _owned_by(items: list[Obj], uid: str) -> list[Obj]:
    return [i for i in items if any(ref.get("controller") and ref.get("uid") == uid
                                    for ref in (i.get("metadata") or {}).get("ownerReferences") or [])]


def replica_sets_of(client: Client, d: Obj) -> list[Obj]:
    items, _ = client.list_all(REPLICASETS, d["metadata"]["namespace"])
    return _owned_by(items, d["metadata"]["uid"])


def revisions_of(client: Client, ds: Obj) -> list[Obj]:
    items, _ = client.list_all(REVISIONS, ds["metadata"]["namespace"])
    return sorted(_owned_by(items, ds["metadata"]["uid"]), key=lambda cr: int(cr.get("revision") or 0))


def daemon_set_patch(ds: Obj) -> Obj:
    """What a ControllerRevision stores: a patch replacing spec.template."""
    template = copy.deepcopy((ds.get("spec") or {}).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


# --- status ------------------------------------------------------------------------------------


def deployment_status(d: Obj, revision: int = 0) -> tuple[str, bool]:
    """DeploymentStatusViewer: (message, done); raises CtlError past the progress deadline."""
    name = d["metadata"]["name"]
    if revision > 0:
        current = du.revision(d)
        if current != revision:
            raise error(f"desired revision ({revision}) is different from the running revision ({current})")
    status = d.get("status") or {}
    if int(d["metadata"].get("generation") or 0) <= int(status.get("observedGeneration") or 0):
        cond = du.get_condition(status, du.PROGRESSING)
        if cond is not None and cond.get("reason") == du.TIMED_OUT_REASON:
            raise error(f'deployment "{name}" exceeded its progress deadline')
        want = du.spec_replicas(d)
        updated = int(status.get("updatedReplicas") or 0)
        replicas = int(status.get("replicas") or 0)
        available = int(status.get("availableReplicas") or 0)
        if updated < want:
            return (f'Waiting for deployment "{name}" rollout to finish: {updated} out of {want} new replicas '
                    "have been updated...", False)
        if replicas > updated:
            return (f'Waiting for deployment "{name}" rollout to finish: {replicas - updated} old replicas are '
                    "pending termination...", False)
        if available < updated:
            return (f'Waiting for deployment "{name}" rollout to finish: {available} of {updated} updated '
                    "replicas are available...", False)
        return f'deployment "{name}" successfully rolled out', True
    return "Waiting for deployment spec update to be observed...", False


def daemon_set_status(ds: Obj) -> tuple[str, bool]:
    name = ds["metadata"]["name"]
    strategy = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("type") or "RollingUpdate"
    if strategy != "RollingUpdate":
        raise error("rollout status is only available for RollingUpdate strategy type")
    status = ds.get("status") or {}
    if int(ds["metadata"].get("generation") or 0) <= int(status.get("observedGeneration") or 0):
        desired = int(status.get("desiredNumberScheduled") or 0)
        updated = int(status.get("updatedNumberScheduled") or 0)
        available = int(status.get("numberAvailable") or 0)
        if updated < desired:
            return (f'Waiting for daemon set "{name}" rollout to finish: {updated} out of {desired} new pods have '
                    "been updated...", False)
        if available < desired:
            return (f'Waiting for daemon set "{name}" rollout to finish: {available} of {desired} updated pods '
                    "are available...", False)
        return f'daemon set "{name}" successfully rolled out', True
    return "Waiting for daemon set spec update to be observed...", False


def _status_of(r: Resource, obj: Obj, revision: int) -> tuple[str, bool]:
    if r is DEPLOYMENTS:
        return deployment_status(obj, revision)
    return daemon_set_status(obj)


def _configure_status(p: Parser) -> None:
    p.add_argument("args", nargs="*", help="TYPE NAME | TYPE/NAME")
    p.add_bool("-w", "--watch", default=True, help="Watch the status of the rollout until it's done.")
    p.add_argument("--revision", type=int, default=0, help="Pin to a specific revision for showing its status.")
    p.add_argument("--timeout", default="0s",
                   help="The length of time to wait before ending watch, zero means never.")


def _run_status(session: Session, args: argparse.Namespace) -> int:
    timeout = parse_timeout(args.timeout) or 0.0
    deadline = time.monotonic() + timeout if timeout else None
    client = session.client
    for r, name, ns in _targets(session, args):
        if r not in (DEPLOYMENTS, DAEMONSETS):
            raise error(f"no status viewer has been implemented for {r.kind}")
        obj = client.get(r, name, ns)
        message, done = _status_of(r, obj, args.revision)
        _print(message)
        if done or not args.watch:
            continue
        rv = obj["metadata"].get("resourceVersion")
        while not done:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise error("timed out waiting for the condition")
            seconds = 300 if remaining is None else max(1, math.ceil(remaining))
            with client.watch(r, ns, resource_version=rv, field_selector=f"metadata.name={name}",
                              timeout_seconds=seconds) as w:
                for event in w:
                    if event.type == "BOOKMARK":
                        rv = event.object.get("metadata", {}).get("resourceVersion") or rv
                        continue
                    if event.type == "DELETED":
                        raise error("object has been deleted")
                    rv = event.object["metadata"].get("resourceVersion") or rv
                    message, done = _status_of(r, event.object, args.revision)
                    _print(message)
                    if done:
                        break
    return 0


def _print(message: str) -> None:
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


# --- history -----------------------------------------------------------------------------------


def _history_table(rows: dict[int, str]) -> str:
    buf = io.StringIO()
    w = describe_writer(buf)
    w.write("REVISION\tCHANGE-CAUSE\n")
    for rev in sorted(rows):
        w.write(f"{rev}\t{rows[rev] or '<none>'}\n")
    w.flush()
    return buf.getvalue()


def _template_text(template: Obj) -> str:
    from minik.ctl.describe.pod import describe_pod_template
    from minik.ctl.describe.writer import PrefixWriter

    w = PrefixWriter()
    describe_pod_template(w, template)
    return w.text()


def deployment_history(client: Client, d: Obj) -> dict[int, Obj]:
    """revision -> pod template (the change-cause copied into its annotations), like ViewHistory."""
    out: dict[int, Obj] = {}
    for rs in replica_sets_of(client, d):
        rev = du.revision(rs)
        if (rs.get("metadata") or {}).get("annotations", {}).get(du.REVISION_ANNOTATION) is None:
            continue
        template = copy.deepcopy((rs.get("spec") or {}).get("template") or {})
        cause = (rs["metadata"].get("annotations") or {}).get(du.CHANGE_CAUSE_ANNOTATION)
        if cause:
            template.setdefault("metadata", {}).setdefault("annotations", {})[du.CHANGE_CAUSE_ANNOTATION] = cause
        out[rev] = template
    return out


def daemon_set_history(client: Client, ds: Obj) -> dict[int, Obj]:
    out: dict[int, Obj] = {}
    for cr in revisions_of(client, ds):
        template = copy.deepcopy(((cr.get("data") or {}).get("spec") or {}).get("template") or {})
        template.pop("$patch", None)
        cause = (cr["metadata"].get("annotations") or {}).get(du.CHANGE_CAUSE_ANNOTATION)
        if cause:
            template.setdefault("metadata", {}).setdefault("annotations", {})[du.CHANGE_CAUSE_ANNOTATION] = cause
        out[int(cr.get("revision") or 0)] = template
    return out


def _configure_history(p: Parser) -> None:
    p.add_argument("args", nargs="*", help="TYPE NAME | TYPE/NAME")
    p.add_argument("--revision", type=int, default=0, help="See the details, including podTemplate of the "
                                                           "revision specified")


def _run_history(session: Session, args: argparse.Namespace) -> int:
    client = session.client
    errors = Errors()
    for r, name, ns in _targets(session, args):
        if r not in (DEPLOYMENTS, DAEMONSETS):
            raise error(f'no history viewer has been implemented for "{r.kind}"')
        try:
            obj = client.get(r, name, ns)
        except StatusError as e:
            errors.status(e)
            continue
        history = deployment_history(client, obj) if r is DEPLOYMENTS else daemon_set_history(client, obj)
        ref = object_ref(r, name)
        if args.revision > 0:
            template = history.get(args.revision)
            if template is None:
                errors.plain("unable to find the specified revision")
                continue
            _print(f"{ref} with revision #{args.revision}\n{_template_text(template)}")
            continue
        if not history:
            _print(f"{ref} \nNo rollout history found.\n")
            continue
        rows = {rev: ((t.get("metadata") or {}).get("annotations") or {}).get(du.CHANGE_CAUSE_ANNOTATION, "")
                for rev, t in history.items()}
        _print(f"{ref} \n{_history_table(rows)}")
    errors.raise_any()
    return 0


# --- undo --------------------------------------------------------------------------------------


def _configure_undo(p: Parser) -> None:
    p.add_argument("args", nargs="*", help="TYPE NAME | TYPE/NAME")
    p.add_argument("--to-revision", type=int, default=0, help="The revision to rollback to. Default to 0 "
                                                              "(last revision).")


def rollback_deployment(client: Client, d: Obj, to_revision: int) -> str:
    """kubectl's DeploymentRollbacker: patch the old ReplicaSet's template back into the Deployment."""
    name = d["metadata"]["name"]
    if to_revision < 0:
        raise error(f"unable to find specified revision {to_revision} in history")
    if (d.get("spec") or {}).get("paused"):
        raise error("you cannot rollback a paused deployment; resume it first with 'kubectl rollout resume' "
                    "and try again")
    target: Obj | None = None
    latest: tuple[int, Obj | None] = (-1, None)
    previous: tuple[int, Obj | None] = (-1, None)
    for rs in replica_sets_of(client, d):
        if du.REVISION_ANNOTATION not in ((rs.get("metadata") or {}).get("annotations") or {}):
            continue
        v = du.revision(rs)
        if to_revision == 0:
            if latest[0] < v:
                previous, latest = latest, (v, rs)
            elif previous[0] < v:
                previous = (v, rs)
        elif v == to_revision:
            target = rs
            break
    if to_revision > 0 and target is None:
        raise error(f"unable to find specified revision {to_revision} in history")
    if to_revision == 0:
        target = previous[1]
        if target is None:
            raise error(f'no rollout history found for deployment "{name}"')
        to_revision = previous[0]
    assert target is not None
    template = copy.deepcopy(target["spec"]["template"])
    if du.equal_ignore_hash(template, (d.get("spec") or {}).get("template")):
        return f"{ROLLBACK_SKIPPED} (current template already matches revision {to_revision})"
    labels = (template.get("metadata") or {}).get("labels") or {}
    labels.pop(du.DEFAULT_UNIQUE_LABEL_KEY, None)
    annotations = {k: v for k, v in ((d["metadata"].get("annotations") or {}).items())
                   if k in du.ANNOTATIONS_TO_SKIP}
    annotations.update({k: v for k, v in ((target["metadata"].get("annotations") or {}).items())
                        if k not in du.ANNOTATIONS_TO_SKIP})
    patch = [{"op": "replace", "path": "/spec/template", "value": template},
             {"op": "add", "path": "/metadata/annotations", "value": annotations}]
    try:
        client.patch(DEPLOYMENTS, name, patch, d["metadata"]["namespace"], patch_type="json")
    except StatusError as e:
        raise error(f"failed restoring revision {to_revision}: {e.message}") from e
    return ROLLBACK_SUCCESS


def rollback_daemon_set(client: Client, ds: Obj, to_revision: int) -> str:
    if to_revision < 0:
        raise error(f"unable to find specified revision {to_revision} in history")
    history = revisions_of(client, ds)
    if to_revision == 0 and len(history) <= 1:
        raise error("no last revision to roll back to")
    if to_revision == 0:
        target: Obj | None = history[-2]
    else:
        target = next((cr for cr in history if int(cr.get("revision") or 0) == to_revision), None)
    if target is None:
        raise error(f"unable to find specified revision {to_revision} in history")
    to_revision = int(target.get("revision") or 0)
    if daemon_set_patch(ds) == target.get("data"):
        return f"{ROLLBACK_SKIPPED} (current template already matches revision {to_revision})"
    try:
        client.patch(DAEMONSETS, ds["metadata"]["name"], target.get("data") or {}, ds["metadata"]["namespace"],
                     patch_type="strategic")
    except StatusError as e:
        raise error(f"failed restoring revision {to_revision}: {e.message}") from e
    return ROLLBACK_SUCCESS


def _run_undo(session: Session, args: argparse.Namespace) -> int:
    client = session.client
    errors = Errors()
    for r, name, ns in _targets(session, args):
        if r not in (DEPLOYMENTS, DAEMONSETS):
            raise error(f"no rollbacker has been implemented for {r.kind}")
        try:
            obj = client.get(r, name, ns)
            if r is DEPLOYMENTS:
                result = rollback_deployment(client, obj, args.to_revision)
            else:
                result = rollback_daemon_set(client, obj, args.to_revision)
        except StatusError as e:
            errors.status(e)
            continue
        except CtlError as e:
            errors.ctl(e)
            continue
        _print(f"{object_ref(r, name)} {result}")
    errors.raise_any()
    return 0


# --- restart, pause, resume ----------------------------------------------------------------------


def _configure_simple(p: Parser) -> None:
    p.add_argument("args", nargs="*", help="TYPE NAME | TYPE/NAME")


def _patch_each(session: Session, args: argparse.Namespace, make_patch: Any, done: str, unchanged: str) -> int:
    """Apply make_patch(resource, obj) -> patch | None (None: nothing to change) to each target."""
    client = session.client
    errors = Errors()
    for r, name, ns in _targets(session, args):
        try:
            obj = client.get(r, name, ns)
        except StatusError as e:
            errors.status(e)
            continue
        try:
            patch = make_patch(r, obj)
        except ValueError as e:
            errors.plain(f'{_group_resource(r)} "{name}" {e}')
            continue
        if patch is None:
            _print(f"{object_ref(r, name)} {unchanged}")
            continue
        try:
            client.patch(r, name, patch, ns, patch_type="strategic")
        except StatusError as e:
            errors.status(e)
            continue
        _print(f"{object_ref(r, name)} {done}")
    errors.raise_any()
    return 0


def _restart_patch(r: Resource, obj: Obj) -> Obj:
    if r not in (DEPLOYMENTS, DAEMONSETS):
        raise ValueError("restarting is not supported")
    if r is DEPLOYMENTS and (obj.get("spec") or {}).get("paused"):
        raise ValueError("can't restart paused deployment (run rollout resume first)")
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"spec": {"template": {"metadata": {"annotations": {RESTARTED_AT_ANNOTATION: now}}}}}


def _pause_patch(paused: bool) -> Any:
    def make(r: Resource, obj: Obj) -> Obj | None:
        if r is not DEPLOYMENTS:
            raise ValueError("pausing is not supported" if paused else "resuming is not supported")
        if bool((obj.get("spec") or {}).get("paused")) == paused:
            return None
        return {"spec": {"paused": paused}}

    return make


def _run_restart(session: Session, args: argparse.Namespace) -> int:
    return _patch_each(session, args, _restart_patch, "restarted", "restarted")


def _run_pause(session: Session, args: argparse.Namespace) -> int:
    return _patch_each(session, args, _pause_patch(True), "paused", "already paused")


def _run_resume(session: Session, args: argparse.Namespace) -> int:
    return _patch_each(session, args, _pause_patch(False), "resumed", "already resumed")


STATUS = Command("rollout status", "Show the status of the rollout", _configure_status, _run_status)
HISTORY = Command("rollout history", "View rollout history", _configure_history, _run_history)
UNDO = Command("rollout undo", "Undo a previous rollout", _configure_undo, _run_undo)
RESTART = Command("rollout restart", "Restart a resource", _configure_simple, _run_restart)
PAUSE = Command("rollout pause", "Mark the provided resource as paused", _configure_simple, _run_pause)
RESUME = Command("rollout resume", "Resume a paused resource", _configure_simple, _run_resume)
COMMANDS = (HISTORY, PAUSE, RESTART, RESUME, STATUS, UNDO)

