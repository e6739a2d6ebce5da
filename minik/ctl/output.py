"""-o formats: human-readable tables (from server Tables), yaml, json, name, jsonpath, custom-columns.

The table printer is kubectl's HumanReadablePrinter for Tables: decorateTable adds NAMESPACE
(with -A), `kind/` name prefixes (several types), -L label columns and LABELS (--show-labels);
printTable writes upper-case headers and tab-separated cells for the tabwriter.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minik.apiserver.printers import format_labels
from minik.ctl import gotemplate, jsonpath
from minik.ctl.encoding import go_json_indent, go_sprint, to_yaml
from minik.ctl.errors import CtlError, error
from minik.ctl.tabwriter import Out, TabWriter, kubectl_table_writer

Obj = dict[str, Any]

ALLOWED_FORMATS = ("custom-columns", "custom-columns-file", "go-template", "go-template-file", "json",
                   "jsonpath", "jsonpath-as-json", "jsonpath-file", "kyaml", "name", "template",
                   "templatefile", "wide", "yaml")


@dataclass
class OutputFormat:
    """A parsed -o value: `kind` (table, wide, yaml, json, name, jsonpath, custom-columns) + argument."""

    kind: str
    argument: str = ""

    @property
    def human(self) -> bool:
        return self.kind in ("table", "wide")


def parse_output(value: str | None) -> OutputFormat:
    """-o value as kubectl's PrintFlags understand it; unknown formats get kubectl's error."""
    if not value:
        return OutputFormat("table")
    name, sep, arg = value.partition("=")
    if name in ("wide", "yaml", "json", "name") and not sep:
        return OutputFormat(name)
    if name in ("jsonpath", "jsonpath-file", "jsonpath-as-json"):
        if name == "jsonpath-file":
            arg = _read_template_file(arg)
        if not arg:
            raise error("template format specified but no template given")
        jsonpath.parse(arg)  # fail early, like kubectl's printer construction
        return OutputFormat("jsonpath-as-json" if name == "jsonpath-as-json" else "jsonpath", arg)
    if name in ("custom-columns", "custom-columns-file"):
        if name == "custom-columns-file":
            return OutputFormat("custom-columns", _columns_from_file(arg))
        if not arg:
            raise error("custom-columns format specified but no custom columns given")
        parse_custom_columns(arg)
        return OutputFormat("custom-columns", arg)
    if name in ("go-template", "go-template-file", "template", "templatefile"):
        if name.endswith("file"):
            arg = _read_template_file(arg)
        if not arg:
            raise error("template format specified but no template given")
        try:
            gotemplate.parse(arg)
        except gotemplate.TemplateError as e:
            raise error(f"error parsing template {arg}, {e}") from e
        return OutputFormat("go-template", arg)
    raise error(f'unable to match a printer suitable for the output format "{value}", allowed formats '
                f"are: {','.join(ALLOWED_FORMATS)}")


def _read_template_file(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError as e:
        raise error(f"error reading --template {path}, {(e.strerror or str(e)).lower()}") from e


def _columns_from_file(path: str) -> str:
    """custom-columns-file: a header line and a line of JSONPath specs, whitespace separated."""
    lines = [ln for ln in _read_template_file(path).splitlines() if ln.strip()]
    if len(lines) != 2:
        raise error(f"expected two lines in custom-columns file, found {len(lines)}")
    headers, specs = lines[0].split(), lines[1].split()
    if len(headers) != len(specs):
        raise error(f"number of headers ({len(headers)}) and field specifications ({len(specs)}) "
                    "don't match")
    return ",".join(f"{h}:{s}" for h, s in zip(headers, specs, strict=True))


# --- generic (non-table) printing -------------------------------------------------------------


def as_list(items: list[Obj]) -> Obj:
    """The `kind: List` kubectl prints when several objects (or a collection) were asked for."""
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


def parse_custom_columns(spec: str) -> list[tuple[str, str]]:
    columns: list[tuple[str, str]] = []
    for part in spec.split(","):
        header, sep, path = part.partition(":")
        if not sep:
            raise error(f"unexpected custom-columns spec: {part}, expected <header>:<json-path-expr>")
        try:
            columns.append((header, jsonpath.relaxed(path)))
        except jsonpath.JSONPathError as e:
            raise error(str(e)) from e
    return columns


def custom_columns(spec: str, objects: list[Obj], no_headers: bool, out: Out) -> None:
    """kubectl's CustomColumnsPrinter: one row per object, `<none>` for empty results."""
    columns = parse_custom_columns(spec)
    parsed = [jsonpath.parse(path) for _, path in columns]
    tw = kubectl_table_writer(out)
    if not no_headers:
        tw.write("\t".join(h for h, _ in columns) + "\n")
    for obj in objects:
        cells = []
        for nodes in parsed:
            values: list[Any] = []
            for node in nodes:
                if isinstance(node, jsonpath.Action):
                    values.extend(jsonpath.find(node.steps, obj))
            cells.append(",".join(go_sprint(v) for v in values) if values else "<none>")
        tw.write("\t".join(cells) + "\n")
    tw.flush()


def print_objects(fmt: OutputFormat, objects: list[Obj], single: bool, out: Out,
                  no_headers: bool = False, ref: Callable[[Obj], str] | None = None) -> None:
    """kubectl get's printGeneric: one object as itself, anything else as a List."""
    data: Obj = objects[0] if single and len(objects) == 1 else as_list(objects)
    if fmt.kind == "yaml":
        out.write(to_yaml(data))
    elif fmt.kind == "json":
        out.write(go_json_indent(data))
    elif fmt.kind == "name":
        for obj in objects:
            out.write((ref(obj) if ref else str((obj.get("metadata") or {}).get("name", ""))) + "\n")
    elif fmt.kind == "jsonpath":
        out.write(jsonpath.render(fmt.argument, data))
    elif fmt.kind == "jsonpath-as-json":
        values = []
        for node in jsonpath.parse(fmt.argument):
            if isinstance(node, jsonpath.Action):
                values.extend(jsonpath.find(node.steps, data))
        out.write(go_json_indent(values))
    elif fmt.kind == "custom-columns":
        custom_columns(fmt.argument, objects, no_headers, out)
    elif fmt.kind == "go-template":
        try:
            out.write(gotemplate.render(fmt.argument, data))
        except gotemplate.TemplateError as e:
            raise error(str(e)) from e
    else:
        raise CtlError(f"error: unsupported output format {fmt.kind}")


# --- tables -----------------------------------------------------------------------------------


def format_cell(cell: Any) -> str:
    """printTable's cell rendering: strings cut at the first newline (`...`), the rest fmt.Sprint."""
    if cell is None:
        return ""
    if isinstance(cell, str):
        cut = re.search(r"[\f\n\r]", cell)
        return cell[:cut.start()] + "..." if cut else cell
    return go_sprint(cell)


def _label_headers(columns: list[str]) -> list[str]:
    return [c.split("/")[-1].upper() for c in columns]


@dataclass
class TablePrinter:
    """Prints server Tables for one resource type; headers once per set of columns."""

    out: TabWriter
    wide: bool = False
    no_headers: bool = False
    with_namespace: bool = False
    kind: str = ""
    label_columns: list[str] = field(default_factory=list)
    show_labels: bool = False
    event_type: bool = False
    _last_columns: list[Any] | None = None
    _printed_headers: bool = False

    def print_table(self, table: Obj, event: str = "") -> None:
        columns = list(table.get("columnDefinitions") or [])
        no_headers = self.no_headers
        if self._printed_headers and (not columns or columns == self._last_columns):
            no_headers = True
        if not columns:
            columns = list(self._last_columns or [])
        elif columns != self._last_columns:
            self._last_columns = columns
            self._printed_headers = False
        rows = list(table.get("rows") or [])
        if rows:
            self._printed_headers = True
        headers, lines = self.decorate(columns, rows)
        if not no_headers:
            if not rows:
                return
            if self.event_type:
                headers = ["EVENT", *headers]
            self.out.write("\t".join(headers) + "\n")
        for line in lines:
            if self.event_type:
                line = [_EVENT_NAMES.get(event, event), *line]
            self.out.write("\t".join(line) + "\n")

    def decorate(self, columns: list[Obj], rows: list[Obj]) -> tuple[list[str], list[list[str]]]:
        """decorateTable + printTable: visible headers and formatted cells for each row."""
        name_col = -1
        if self.kind:
            for i, c in enumerate(columns):
                if c.get("format") == "name" and c.get("type") == "string":
                    name_col = i
                    break
        visible = [i for i, c in enumerate(columns) if self.wide or not int(c.get("priority") or 0)]
        headers = [str(columns[i].get("name", "")).upper() for i in visible]
        if self.with_namespace:
            headers = ["NAMESPACE", *headers]
        headers += _label_headers(self.label_columns)
        if self.show_labels:
            headers.append("LABELS")
        lines: list[list[str]] = []
        for row in rows:
            cells = list(row.get("cells") or [])
            meta = ((row.get("object") or {}).get("metadata") or {})
            if name_col >= 0 and name_col < len(cells):
                cells[name_col] = f"{self.kind}/{format_cell(cells[name_col])}"
            line = [format_cell(cells[i]) if i < len(cells) else "" for i in visible]
            if self.with_namespace:
                line = [str(meta.get("namespace") or ""), *line]
            labels = meta.get("labels") or {}
            line += [str(labels.get(key, "")) for key in self.label_columns]
            if self.show_labels:
                line.append(format_labels(labels))
            lines.append(line)
        return headers, lines


_EVENT_NAMES = {"ADDED": "ADDED   ", "MODIFIED": "MODIFIED", "DELETED": "DELETED ", "ERROR": "ERROR   "}


def _natural_key(value: str) -> list[Any]:
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", value)]


def sort_key(value: Any) -> tuple[Any, ...]:
    """kubectl's sort order: missing first, numbers numerically, strings naturally."""
    if value is None:
        return (0,)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float):
        return (2, value)
    if isinstance(value, str):
        return (3, _natural_key(value))
    return (4, go_sprint(value))


def _field_key(field_path: str) -> Callable[[Obj], tuple[Any, ...]]:
    try:
        nodes = jsonpath.parse(jsonpath.relaxed(field_path))
    except jsonpath.JSONPathError as e:
        raise error(str(e)) from e
    steps = [n for n in nodes if isinstance(n, jsonpath.Action)]

    def key(obj: Obj) -> tuple[Any, ...]:
        values = jsonpath.find(steps[0].steps, obj) if steps else []
        return sort_key(values[0] if values else None)

    return key


def sort_objects(objects: list[Obj], field_path: str) -> list[Obj]:
    """--sort-by=<jsonpath> over full objects."""
    return sorted(objects, key=_field_key(field_path))


def sort_rows(table: Obj, field_path: str) -> None:
    """--sort-by on a Table whose rows carry their objects (includeObject=Object)."""
    key = _field_key(field_path)
    table["rows"] = sorted(table.get("rows") or [], key=lambda row: key(row.get("object") or {}))
