"""`minictl api-resources` and `minictl api-versions`, read from the server's discovery documents."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

from minik.ctl.cli import Command, Parser
from minik.ctl.errors import error
from minik.ctl.session import Session
from minik.ctl.tabwriter import kubectl_table_writer


@dataclass
class _ApiResource:
    name: str
    short_names: list[str]
    group: str
    group_version: str
    namespaced: bool
    kind: str
    verbs: list[str]
    categories: list[str]


def _group_versions(session: Session) -> list[tuple[str, str]]:
    """(group, groupVersion) pairs: core from /api, then each group's preferred version from /apis."""
    client = session.client
    out: list[tuple[str, str]] = []
    core = client.get_json("/api") or {}
    out.extend(("", str(v)) for v in core.get("versions") or [])
    groups = client.get_json("/apis") or {}
    for group in groups.get("groups") or []:
        preferred = (group.get("preferredVersion") or {}).get("groupVersion")
        if preferred:
            out.append((str(group.get("name", "")), str(preferred)))
    return out


def _resources(session: Session) -> list[_ApiResource]:
    out: list[_ApiResource] = []
    for group, gv in _group_versions(session):
        path = f"/api/{gv}" if not group else f"/apis/{gv}"
        doc: dict[str, Any] = session.client.get_json(path) or {}
        for r in doc.get("resources") or []:
            name = str(r.get("name", ""))
            if "/" in name:
                continue
            out.append(_ApiResource(name, list(r.get("shortNames") or []), group, gv,
                                    bool(r.get("namespaced")), str(r.get("kind", "")),
                                    list(r.get("verbs") or []), list(r.get("categories") or [])))
    return out


def _configure(p: Parser) -> None:
    p.add_argument("--namespaced", choices=["true", "false"], help="If false, non-namespaced resources only.")
    p.add_argument("--api-group", help="Limit to resources in the specified API group.")
    p.add_argument("-o", "--output", help="Output format. One of: (wide, name).")
    p.add_bool("--no-headers", help="Don't print headers.")
    p.add_argument("--sort-by", help="Sort list of resources by 'name' or 'kind'.")
    p.add_argument("--verbs", action="append", default=[], help="Limit to resources that support the verbs.")


def _run(session: Session, args: argparse.Namespace) -> int:
    if args.output not in (None, "wide", "name"):
        raise error(f"--output {args.output} is not available")
    resources = _resources(session)
    if args.namespaced is not None:
        resources = [r for r in resources if r.namespaced == (args.namespaced == "true")]
    if args.api_group is not None:
        resources = [r for r in resources if r.group == args.api_group]
    verbs = [v for value in args.verbs for v in value.split(",") if v]
    if verbs:
        resources = [r for r in resources if all(v in r.verbs for v in verbs)]
    if args.sort_by == "kind":
        resources.sort(key=lambda r: r.kind)
    elif args.sort_by == "name":
        resources.sort(key=lambda r: r.name)
    else:
        resources.sort(key=lambda r: (r.group, r.name))
    if args.output == "name":
        for r in resources:
            print(f"{r.name}.{r.group}" if r.group else r.name)
        return 0
    tw = kubectl_table_writer(sys.stdout)
    wide = args.output == "wide"
    if not args.no_headers and resources:
        extra = "\tVERBS\tCATEGORIES" if wide else ""
        tw.write(f"NAME\tSHORTNAMES\tAPIVERSION\tNAMESPACED\tKIND{extra}\n")
    for r in resources:
        cells = [r.name, ",".join(r.short_names), r.group_version, str(r.namespaced).lower(), r.kind]
        line = "\t".join(cells)
        if wide:
            line += f"\t{','.join(sorted(r.verbs))}\t{','.join(r.categories)}"
        tw.write(line + "\n")
    tw.flush()
    return 0


def _versions_configure(p: Parser) -> None:
    del p


def _versions(session: Session, args: argparse.Namespace) -> int:
    for gv in sorted(gv for _, gv in _all_group_versions(session)):
        print(gv)
    return 0


def _all_group_versions(session: Session) -> list[tuple[str, str]]:
    client = session.client
    out = [("", str(v)) for v in (client.get_json("/api") or {}).get("versions") or []]
    for group in (client.get_json("/apis") or {}).get("groups") or []:
        name = str(group.get("name", ""))
        out.extend((name, str(v.get("groupVersion"))) for v in group.get("versions") or [])
    return out


API_RESOURCES = Command("api-resources", "Print the supported API resources on the server", _configure, _run)
API_VERSIONS = Command("api-versions", "Print the supported API versions on the server, in the form of "
                       "\"group/version\"", _versions_configure, _versions)
