"""What the user named on the command line: resource types, names, `TYPE/NAME`, `all`.

The equivalent of kubectl's resource.Builder argument handling (ResourceTypeOrNameArgs), using
the shared resource table instead of discovery.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from minik.api.resources import ALL_CATEGORY_ORDER, Resource, by_kind, lookup
from minik.ctl.errors import CtlError, error


@dataclass
class Target:
    """One resource type and the names asked for (empty: the whole collection)."""

    resource: Resource
    names: list[str] = field(default_factory=list)


def resolve(name: str) -> Resource:
    """A type as typed (`po`, `pods`, `deployments.apps`, `deployments.v1.apps`), or kubectl's error."""
    r = lookup(name)
    if r is None and name.count(".") >= 2:
        plural, _version, group = name.split(".", 2)
        r = lookup(f"{plural}.{group}")
    if r is None:
        raise error(f'the server doesn\'t have a resource type "{name}"')
    return r


def resolve_kind(api_version: str, kind: str, name: str, namespace: str, source: str) -> Resource:
    """The resource of an object read from a file, or kubectl's "resource mapping not found"."""
    r = by_kind(api_version, kind)
    if r is None:
        raise error(f'resource mapping not found for name: "{name}" namespace: "{namespace}" from '
                    f'"{source}": no matches for kind "{kind}" in version "{api_version}"\n'
                    "ensure CRDs are installed first")
    return r


def pod_name(arg: str, refusal: str) -> str:
    """POD or TYPE/NAME for commands that only work on pods (logs, exec); `refusal` names the
    other kind (`{kind}`) in the error kubectl would give."""
    if "/" not in arg:
        return arg
    kind, _, name = arg.partition("/")
    if lookup(kind) != lookup("pods"):
        raise error(refusal.format(kind=kind))
    return name


def kind_string(r: Resource) -> str:
    """`pod`, `deployment.apps`: lower-case kind plus group, as kubectl prints object references."""
    return f"{r.kind.lower()}.{r.group}" if r.group else r.kind.lower()


def object_ref(r: Resource, name: str) -> str:
    """`pod/app`, `deployment.apps/web` (the -o name form)."""
    return f"{kind_string(r)}/{name}"


def expand_types(text: str) -> list[Resource]:
    """`pods,svc` or `all` into resources, in order and without duplicates."""
    out: list[Resource] = []
    for part in text.split(","):
        if not part:
            continue
        found = [resolve(p) for p in ALL_CATEGORY_ORDER] if part == "all" else [resolve(part)]
        for r in found:
            if r not in out:
                out.append(r)
    return out


def parse_targets(args: list[str]) -> list[Target]:
    """`TYPE[,TYPE] [NAME...]` or `TYPE/NAME...`; mixing the two forms is kubectl's error."""
    if not args:
        return []
    if any("/" in a for a in args):
        if not all("/" in a for a in args):
            raise error("there is no need to specify a resource type as a separate argument when passing "
                        "arguments in resource/name form (e.g. 'kubectl get resource/<resource_name>' "
                        "instead of 'kubectl get resource resource/<resource_name>'")
        targets: list[Target] = []
        for arg in args:
            type_part, _, name = arg.partition("/")
            if not type_part or not name or "/" in name:
                raise error("arguments in resource/name form must have a single resource and name")
            r = resolve(type_part)
            for t in targets:
                if t.resource == r:
                    t.names.append(name)
                    break
            else:
                targets.append(Target(r, [name]))
        return targets
    types, names = args[0], args[1:]
    return [Target(r, list(names)) for r in expand_types(types)]


def multiple_types_requested(args: list[str]) -> bool:
    """resource.MultipleTypesRequested: `all`, `a,b` or TYPE/NAME args of different types."""
    if not args:
        return False
    if any("/" in a for a in args):
        kinds = {resolve(a.split("/", 1)[0]) for a in args}
        return len(kinds) > 1
    parts = [p for p in args[0].split(",") if p]
    return "all" in parts or len({resolve(p) for p in parts}) > 1


def require_targets(args: list[str], filenames: list[str]) -> None:
    """kubectl's message when neither resources nor -f were given."""
    if args or filenames:
        return
    raise CtlError("error: You must provide one or more resources by argument or filename.\n"
                   "Example resource specifications include:\n"
                   "   '-f rsrc.yaml'\n"
                   "   '--filename=rsrc.json'\n"
                   "   '<resource> <name>'\n"
                   "   '<resource>'")
