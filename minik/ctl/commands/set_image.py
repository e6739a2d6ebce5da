"""`minictl set image TYPE/NAME CONTAINER=IMAGE ...`: change container images, starting a rollout.

Works on pods and on anything with a pod template (deployments, daemonsets, replicasets);
`*=IMAGE` sets every container. Init containers are matched by name too, like kubectl.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from minik.api.errors import StatusError
from minik.api.resources import Resource
from minik.ctl.cli import Command, Parser
from minik.ctl.errors import CtlError, Errors, error
from minik.ctl.resources import object_ref, parse_targets
from minik.ctl.session import Session

Obj = dict[str, Any]


def configure(p: Parser) -> None:
    p.add_argument("args", nargs="*", help="(-f FILENAME | TYPE NAME) CONTAINER_NAME_1=CONTAINER_IMAGE_1 ...")
    p.add_bool("--all", help="Select all resources, in the namespace of the specified resource types")
    p.add_argument("-l", "--selector", help="Selector (label query) to filter on")


def split_args(args: list[str]) -> tuple[list[str], dict[str, str]]:
    """Resource arguments and the CONTAINER=IMAGE pairs that follow them."""
    resources: list[str] = []
    images: dict[str, str] = {}
    for arg in args:
        if "=" in arg:
            name, _, image = arg.partition("=")
            if not name or not image:
                raise error(f"invalid image {arg}")
            images[name] = image
        elif images:
            raise error("all resources must be specified before image changes: " + arg)
        else:
            resources.append(arg)
    return resources, images


def pod_spec_path(r: Resource) -> list[str]:
    return ["spec"] if r.kind == "Pod" else ["spec", "template", "spec"]


def image_patch(r: Resource, obj: Obj, images: dict[str, str]) -> Obj | None:
    """Strategic merge patch setting the images (None when nothing changes); raises on unknown names."""
    spec: Obj = obj
    for key in pod_spec_path(r):
        spec = spec.get(key) or {}
    changes: dict[str, list[Obj]] = {}
    found: set[str] = set()
    for field in ("initContainers", "containers"):
        for c in spec.get(field) or []:
            name = c.get("name")
            image = images.get(name, images.get("*"))
            if image is None:
                continue
            found.add(name if name in images else "*")
            if c.get("image") != image:
                changes.setdefault(field, []).append({"name": name, "image": image})
    for name in images:
        if name not in found:
            raise error(f'unable to find container named "{name}"')
    if not changes:
        return None
    patch: Obj = dict(changes)
    for key in reversed(pod_spec_path(r)):
        patch = {key: patch}
    return patch


def run(session: Session, args: argparse.Namespace) -> int:
    resources, images = split_args(args.args)
    if not images:
        raise error("at least one image update is required")
    if not resources:
        raise error("one or more resources must be specified as <resource> <name> or <resource>/<name>")
    client = session.client
    errors = Errors()
    targets: list[tuple[Resource, str, str | None]] = []
    for t in parse_targets(resources):
        if t.resource.kind not in ("Pod", "Deployment", "DaemonSet", "ReplicaSet"):
            raise error(f"the resource {t.resource.kind} does not have a pod template")
        ns = session.namespace if t.resource.namespaced else None
        if t.names:
            targets.extend((t.resource, n, ns) for n in t.names)
        elif args.all or args.selector:
            items, _ = client.list_all(t.resource, ns, label_selector=args.selector)
            targets.extend((t.resource, str(i["metadata"]["name"]), ns) for i in items)
        else:
            raise error("resource(s) were provided, but no name was specified")
    for r, name, ns in targets:
        try:
            obj = client.get(r, name, ns)
            patch = image_patch(r, obj, images)
            if patch is None:
                continue  # kubectl prints nothing when the images are already set
            client.patch(r, name, patch, ns, patch_type="strategic")
        except StatusError as e:
            errors.status(e)
            continue
        except CtlError as e:
            errors.ctl(e)
            continue
        sys.stdout.write(f"{object_ref(r, name)} image updated\n")
    errors.raise_any()
    return 0


COMMAND = Command("set image", "Update the image of a pod template", configure, run)
