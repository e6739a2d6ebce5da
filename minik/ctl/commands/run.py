"""`minictl run NAME --image=IMAGE [--env=K=V] [--port=N] [-l k=v,...] [--restart=...] [--command] -- [ARGS...]`.

Creates one Pod the way `kubectl run` does (its BasicPod generator): the container is named like
the pod, the label `run=NAME` unless -l says otherwise, arguments after NAME become the container's
args (its command with --command), restartPolicy Always unless --restart says otherwise. Checks and
error messages are kubectl's, in kubectl's order. Attaching (-i, -t, --attach, --rm) and --expose
are not supported.
"""

from __future__ import annotations

import argparse
import re
import sys

from minik.api.resources import lookup
from minik.ctl.cli import Command, Parser, add_dry_run_flag, dry_run_suffix
from minik.ctl.encoding import go_json_indent
from minik.ctl.errors import error
from minik.ctl.output import parse_output, print_objects
from minik.ctl.resources import object_ref
from minik.ctl.session import Session

RESTART_POLICIES = ("Always", "OnFailure", "Never")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")

# github.com/distribution/reference's ReferenceRegexp: [domain/]path[:tag][@digest]
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = f"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
REFERENCE = re.compile(rf"^(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*(?::{_TAG})?(?:@{_DIGEST})?$")
ENV_VAR_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")  # validation.IsEnvVarName


def configure(p: Parser) -> None:
    p.add_argument("args", nargs="*", help="NAME, then the container's arguments (after --)")
    p.add_argument("--image", help="The image for the container to run.")
    p.add_argument("--restart", default="Always",
                   help="The restart policy for this Pod. Legal values [Always, OnFailure, Never].")
    p.add_argument("-l", "--labels", default="", help="Comma separated labels to apply to the pod.")
    p.add_argument("--annotations", action="append", default=[], help="Annotations to apply to the pod.")
    p.add_argument("--env", action="append", default=[], help="Environment variables to set in the container.")
    p.add_argument("--port", default="", help="The port that this container exposes.")
    p.add_argument("--image-pull-policy", default="", help="The image pull policy for the container.")
    p.add_bool("--command", help="If true and extra arguments are present, use them as the 'command' field "
                                 "in the container, rather than the 'args' field which is the default.")
    add_dry_run_flag(p)
    p.add_argument("-o", "--output", help="Output format: json, yaml, name, ...")


def parse_labels(spec: str) -> dict[str, str]:
    """generate.ParseLabels: `k=v,k2=v2`."""
    labels: dict[str, str] = {}
    for item in spec.split(","):
        parts = item.split("=")
        if len(parts) != 2:
            raise error(f"unexpected label spec: {item}")
        if not parts[0]:
            raise error("unexpected empty label key")
        labels[parts[0]] = parts[1]
    return labels


def parse_envs(items: list[str]) -> list[dict[str, str]]:
    """run's parseEnvs: NAME=VALUE, the value may hold `=`; the name must be a C-ish identifier."""
    envs = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name or not ENV_VAR_NAME.match(name):
            raise error(f"invalid env: {item}")
        envs.append({"name": name, "value": value})
    return envs


def parse_annotations(items: list[str]) -> dict[str, str]:
    annotations: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise error(f"invalid annotations format: {item}")
        annotations[key] = value
    return annotations


def generate_pod(name: str, image: str, args: list[str], *, namespace: str = "", command: bool = False,
                 restart: str = "Always", labels: str = "", env: list[str] | None = None, port: int | None = None,
                 pull_policy: str = "", annotations: list[str] | None = None) -> dict:
    """The BasicPod generator's Pod, keys in the Go structs' order (what `-o json` shows before the server
    has seen it)."""
    container: dict = {"name": name, "image": image}
    if args:
        container["command" if command else "args"] = list(args)
    if port is not None:
        container["ports"] = [{"containerPort": port}]
    envs = parse_envs(env or [])
    if envs:
        container["env"] = envs
    container["resources"] = {}
    if pull_policy:
        container["imagePullPolicy"] = pull_policy
    metadata: dict = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    metadata["labels"] = parse_labels(labels) if labels else {"run": name}
    if annotations:
        metadata["annotations"] = parse_annotations(annotations)
    return {"kind": "Pod", "apiVersion": "v1", "metadata": metadata,
            "spec": {"containers": [container], "restartPolicy": restart, "dnsPolicy": "ClusterFirst"},
            "status": {}}


def run(session: Session, args: argparse.Namespace) -> int:
    output = parse_output(args.output) if args.output else None
    if args.image is None:
        raise error('required flag(s) "image" not set')
    if not args.args:
        raise error("NAME is required for run")
    if not args.image:
        raise error("--image is required")
    if not REFERENCE.match(args.image):
        raise error(f'invalid image name "{args.image}": invalid reference format')
    port = None
    if args.port:
        try:
            port = int(args.port, 10)
        except ValueError:
            raise error("--port must be a number") from None
    restart = args.restart or "Always"
    if restart not in RESTART_POLICIES:
        raise error(f"invalid restart policy: {restart}, valid values are: {', '.join(RESTART_POLICIES)}")
    if args.image_pull_policy and args.image_pull_policy not in PULL_POLICIES:
        raise error(f"invalid image pull policy: {args.image_pull_policy}, valid values are: "
                    f"{', '.join(PULL_POLICIES)}")
    name, *container_args = args.args
    pod = generate_pod(name, args.image, container_args,
                       namespace=session.namespace if session.explicit_namespace else "", command=args.command,
                       restart=restart, labels=args.labels, env=args.env, port=port,
                       pull_policy=args.image_pull_policy, annotations=args.annotations)
    pods = lookup("pods")
    assert pods is not None
    if args.dry_run != "client":
        pod = session.client.create(pods, pod, session.namespace, dry_run=args.dry_run == "server")
    if output is None:
        print(f"{object_ref(pods, name)} created{dry_run_suffix(args.dry_run)}", flush=True)
    elif output.kind == "json" and args.dry_run == "client":
        sys.stdout.write(go_json_indent(pod, sort_keys=False))
    else:
        print_objects(output, [pod], True, sys.stdout, ref=lambda _obj: object_ref(pods, name))
    return 0


COMMAND = Command("run", "Run a particular image on the cluster", configure, run)
