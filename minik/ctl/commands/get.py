"""`minictl get`: tables from the server's Table printers, or objects in any -o format, or a watch."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from typing import Any

from minik.api.errors import NotFoundError, StatusError
from minik.api.resources import Resource
from minik.apiserver.printers import to_table
from minik.client.rest import ConnectionFailed
from minik.ctl.cli import Command, Parser, add_filename_flags
from minik.ctl.errors import CtlError, Errors, error, with_source
from minik.ctl.manifests import read_manifests, resolve_infos
from minik.ctl.output import (
    OutputFormat,
    TablePrinter,
    parse_output,
    print_objects,
    sort_objects,
    sort_rows,
)
from minik.ctl.resources import (
    Target,
    kind_string,
    multiple_types_requested,
    object_ref,
    parse_targets,
)
from minik.ctl.session import Session
from minik.ctl.tabwriter import kubectl_table_writer

Obj = dict[str, Any]


def configure(p: Parser) -> None:
    p.add_argument("args", nargs="*", help="TYPE[,TYPE] [NAME...] or TYPE/NAME...")
    p.add_argument("-o", "--output",
                   help="Output format: json|yaml|wide|name|jsonpath=...|custom-columns=...")
    p.add_argument("-l", "--selector", help="Selector (label query) to filter on")
    p.add_argument("--field-selector", help="Selector (field query) to filter on")
    p.add_bool("-A", "--all-namespaces", help="List the requested object(s) across all namespaces.")
    p.add_bool("--show-labels", help="When printing, show all labels as the last column.")
    p.add_argument("-L", "--label-columns", action="append", default=[],
                   help="Label keys to present as columns (comma separated or repeated)")
    p.add_bool("--no-headers", help="Don't print headers.")
    p.add_argument("--sort-by", help="Sort list types using this field specification (JSONPath).")
    p.add_argument("--template", help="Template string or path to template file to use with -o go-template.")
    p.add_bool("-w", "--watch", help="After listing/getting the requested object, watch for changes.")
    p.add_bool("--watch-only", help="Watch for changes to the requested object(s), without listing first.")
    p.add_bool("--output-watch-events", help="Output watch event objects when --watch is used.")
    p.add_bool("--ignore-not-found", help="If the requested object does not exist, exit 0.")
    p.add_argument("--chunk-size", type=int, default=500, help="Return large lists in chunks.")
    add_filename_flags(p, "identifying the resource to get from a server.")


@dataclass
class _Request:
    """One thing to fetch: a named object or a collection, in a namespace (None: all)."""

    resource: Resource
    name: str | None
    namespace: str | None
    source: str = ""


class _Tracking:
    """Counts what reaches stdout and puts a blank line before the next table when asked."""

    def __init__(self) -> None:
        self.written = 0
        self.separator = False

    def write(self, text: str) -> int:
        if text and self.separator:
            sys.stdout.write("\n")
            self.separator = False
        self.written += len(text)
        sys.stdout.write(text)
        return len(text)


def _requests(session: Session, args: argparse.Namespace, errors: Errors) -> tuple[list[_Request], bool]:
    """The fetches to make, and whether the user named exactly one object (singleItemImplied)."""
    all_ns = bool(args.all_namespaces)
    namespace = None if all_ns else session.namespace
    if args.filename:
        infos = resolve_infos(read_manifests(args.filename, args.recursive), session.namespace,
                              session.explicit_namespace, errors)
        out = [_Request(i.resource, i.name, i.namespace, i.source) for i in infos]
        return out, len(out) == 1 and len(args.filename) == 1
    if not args.args:
        raise CtlError("You must specify the type of resource to get. Use \"minictl api-resources\" for a "
                       "complete list of supported resources.\n\nerror: Required resource not specified.\n"
                       "Use \"minictl explain <resource>\" for a detailed description of that resource "
                       "(e.g. minictl explain pods).\nSee 'minictl get -h' for help and examples")
    targets: list[Target] = parse_targets(args.args)
    requests: list[_Request] = []
    names_total = 0
    for t in targets:
        ns = namespace if t.resource.namespaced else None
        if t.names:
            if all_ns:
                raise error("a resource cannot be retrieved by name across all namespaces")
            names_total += len(t.names)
            requests.extend(_Request(t.resource, n, ns) for n in t.names)
        else:
            requests.append(_Request(t.resource, None, ns))
    single = names_total == 1 and len(requests) == 1
    return requests, single


def run(session: Session, args: argparse.Namespace) -> int:
    output = args.output
    if args.template and output in (None, "template", "go-template", "templatefile", "go-template-file"):
        kind = "go-template-file" if output in ("templatefile", "go-template-file") else "go-template"
        output = f"{kind}={args.template}"
    fmt = parse_output(output)
    if args.show_labels and not fmt.human:
        raise error(f"--show-labels option cannot be used with {args.output} printer")
    if args.output_watch_events and not (args.watch or args.watch_only):
        raise error("--output-watch-events option can only be used with --watch or --watch-only")
    if args.watch or args.watch_only:
        return _watch(session, args, fmt)
    errors = Errors()
    requests, single = _requests(session, args, errors)
    if fmt.human:
        _print_tables(session, args, fmt, requests, errors)
    else:
        _print_generic(session, args, fmt, requests, single, errors)
    errors.raise_any()
    return 0


def _label_columns(values: list[str]) -> list[str]:
    return [c for v in values for c in v.split(",") if c]


def _printer(args: argparse.Namespace, fmt: OutputFormat, tw: Any, r: Resource,
             with_kind: bool) -> TablePrinter:
    return TablePrinter(tw, wide=fmt.kind == "wide", no_headers=bool(args.no_headers),
                        with_namespace=bool(args.all_namespaces) and r.namespaced,
                        kind=kind_string(r) if with_kind else "",
                        label_columns=_label_columns(args.label_columns),
                        show_labels=bool(args.show_labels))


def _print_tables(session: Session, args: argparse.Namespace, fmt: OutputFormat,
                  requests: list[_Request], errors: Errors) -> None:
    client = session.client
    tables: list[tuple[Resource, Obj]] = []
    for req in requests:
        try:
            table = client.table(req.resource, req.namespace, req.name, label_selector=args.selector,
                                 field_selector=args.field_selector, include_object=bool(args.sort_by))
        except NotFoundError as e:
            if not args.ignore_not_found:
                errors.status(_with_source(e, req.source))
            continue
        except StatusError as e:
            errors.status(e)
            continue
        tables.append((req.resource, table))
    with_kind = multiple_types_requested(args.args) or len({r for r, _ in tables}) > 1
    tracking = _Tracking()
    tw = kubectl_table_writer(tracking)
    printer: TablePrinter | None = None
    last: Resource | None = None
    for r, table in tables:
        if printer is None or r != last:
            tw.flush()
            tw.set_remembered_widths(None)
            if last is not None and not args.no_headers and tracking.written > 0:
                tracking.separator = True
            printer = _printer(args, fmt, tw, r, with_kind)
            last = r
        if args.sort_by:
            sort_rows(table, args.sort_by)
        printer.print_table(table)
    tw.flush()
    if tracking.written == 0 and not args.ignore_not_found and not errors:
        all_namespaced = not args.all_namespaces and all(r.namespaced for r, _ in tables)
        if all_namespaced:
            print(f"No resources found in {session.namespace} namespace.", file=sys.stderr)
        else:
            print("No resources found", file=sys.stderr)


def _with_source(err: StatusError, source: str) -> StatusError:
    return with_source("getting", source, err) if source else err


def _print_generic(session: Session, args: argparse.Namespace, fmt: OutputFormat,
                   requests: list[_Request], single: bool, errors: Errors) -> None:
    client = session.client
    objects: list[Obj] = []
    refs: dict[int, str] = {}
    for req in requests:
        try:
            if req.name:
                found = [client.get(req.resource, req.name, req.namespace)]
            else:
                found, _ = client.list_all(req.resource, req.namespace, label_selector=args.selector,
                                           field_selector=args.field_selector,
                                           page_size=args.chunk_size or 0)
        except NotFoundError as e:
            if single and not args.ignore_not_found:
                raise
            if not args.ignore_not_found:
                errors.status(e)
            continue
        for obj in found:
            refs[id(obj)] = object_ref(req.resource, str((obj.get("metadata") or {}).get("name", "")))
        objects.extend(found)
    if args.sort_by:
        objects = sort_objects(objects, args.sort_by)
    if not (single and not objects):
        print_objects(fmt, objects, single, sys.stdout, no_headers=bool(args.no_headers),
                      ref=lambda o: refs.get(id(o), ""))


def _watch(session: Session, args: argparse.Namespace, fmt: OutputFormat) -> int:
    """List (unless --watch-only), then print one row per watch event until interrupted."""
    if args.sort_by:
        print("warning: --watch or --watch-only requested, --sort-by will be ignored", file=sys.stderr)
    errors = Errors()
    requests, _ = _requests(session, args, errors)
    errors.raise_any()
    if len({r.resource for r in requests}) > 1 or len(requests) > 1:
        raise error("watch is only supported on individual resources and resource collections - more than 1 "
                    "resource was found")
    if not requests:
        raise error("Required resource not specified.")
    req = requests[0]
    client = session.client
    field_selector = args.field_selector
    if req.name:
        name_sel = f"metadata.name={req.name}"
        field_selector = f"{field_selector},{name_sel}" if field_selector else name_sel
    tracking = _Tracking()
    tw = kubectl_table_writer(tracking)
    printer = TablePrinter(tw, wide=fmt.kind == "wide", no_headers=bool(args.no_headers),
                           with_namespace=bool(args.all_namespaces) and req.resource.namespaced,
                           label_columns=_label_columns(args.label_columns),
                           show_labels=bool(args.show_labels), event_type=bool(args.output_watch_events))
    items, rv = client.list_all(req.resource, req.namespace, label_selector=args.selector,
                                field_selector=field_selector)
    if req.name and not items:
        raise NotFoundError(f'{req.resource.group_resource} "{req.name}" not found')
    if not args.watch_only:
        _emit(fmt, printer, req.resource, items, "ADDED", args)
        tw.flush()
    try:
        try:
            stream = client.watch(req.resource, req.namespace, resource_version=rv,
                                  label_selector=args.selector, field_selector=field_selector)
        except StatusError as e:
            if e.code not in (410, 504):
                raise
            # The list's revision may be ahead of what the watch cache has seen for this resource:
            # resume from the newest listed object instead (a few rows may print twice).
            newest = max((int((i.get("metadata") or {}).get("resourceVersion") or 0) for i in items), default=0)
            stream = client.watch(req.resource, req.namespace, resource_version=str(newest) if newest else None,
                                  label_selector=args.selector, field_selector=field_selector)
        with stream:
            for event in stream:
                if event.type not in ("ADDED", "MODIFIED", "DELETED"):
                    continue
                _emit(fmt, printer, req.resource, [event.object], event.type, args)
                tw.flush()
    except KeyboardInterrupt:
        tw.flush()
        return 1
    except ConnectionFailed:
        tw.flush()
        raise
    return 0


def _emit(fmt: OutputFormat, printer: TablePrinter, r: Resource, items: list[Obj], event: str,
          args: argparse.Namespace) -> None:
    if not items:
        return
    if fmt.human:
        printer.print_table(to_table(r, items, include_object="Metadata"), event)
        return
    for obj in items:
        data = {"type": event, "object": obj} if args.output_watch_events else obj
        print_objects(fmt, [data], True, sys.stdout, no_headers=True,
                      ref=lambda o: object_ref(r, str((o.get("metadata") or {}).get("name", ""))))
        if fmt.kind == "yaml":
            sys.stdout.write("---\n")
        sys.stdout.flush()


COMMAND = Command("get", "Display one or many resources", configure, run)
