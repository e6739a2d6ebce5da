"""Reading `-f` inputs: files, directories (optionally recursive), stdin; YAML streams, JSON, Lists.

Errors name the source the way kubectl does, e.g.
`error parsing pod.yaml: error converting YAML to JSON: yaml: line 4: mapping values are not allowed
in this context`, with go-yaml's line numbering (relative to the YAML document).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from minik.api.resources import Resource
from minik.ctl.errors import CtlError, Errors, error
from minik.ctl.resources import object_ref, resolve_kind

FILE_EXTENSIONS = (".json", ".yaml", ".yml")
STDIN = "STDIN"

# PyYAML problem texts -> go-yaml's wording for the same libyaml condition.
_GO_YAML_PROBLEMS = (
    ("mapping values are not allowed here", "mapping values are not allowed in this context"),
    ("that cannot start any token", "found character that cannot start any token"),
    ("could not find expected ':'", "could not find expected ':'"),
    ("found unexpected end of stream", "found unexpected end of stream"),
    ("found undefined alias", "unknown anchor"),
    ("while scanning a quoted scalar", "found unexpected end of stream"),
)


@dataclass
class Manifest:
    """One object read from a file, with where it came from (kubectl's info.Source)."""

    obj: dict[str, Any]
    source: str


def expand_filenames(values: Iterable[str]) -> list[str]:
    """-f is a string slice: repeatable and comma separated."""
    out: list[str] = []
    for value in values:
        out.extend(v for v in value.split(",") if v)
    return out


def read_manifests(filenames: list[str], recursive: bool = False) -> list[Manifest]:
    """Every object in the given files/directories, in kubectl's order (files sorted by path)."""
    manifests: list[Manifest] = []
    for name in expand_filenames(filenames):
        if name == "-":
            manifests.extend(parse_documents(sys.stdin.read(), STDIN))
            continue
        if name.startswith(("http://", "https://")):
            raise error(f"the path \"{name}\" cannot be read: URLs are not supported by minictl")
        path = Path(name)
        if not path.exists():
            raise error(f'the path "{name}" does not exist')
        if path.is_dir():
            files = _dir_files(path, recursive)
            for f in files:
                manifests.extend(parse_documents(_read(f, str(f)), str(f)))
            continue
        manifests.extend(parse_documents(_read(path, name), name))
    return manifests


def _dir_files(path: Path, recursive: bool) -> list[Path]:
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in path.glob(pattern) if p.is_file() and p.suffix in FILE_EXTENSIONS)


def _read(path: Path, name: str) -> str:
    try:
        return path.read_text()
    except OSError as e:
        raise error(f"open {name}: {(e.strerror or str(e)).lower()}") from e
    except UnicodeDecodeError as e:
        raise error(f"error parsing {name}: {e}") from e


def _split_documents(text: str, source: str) -> list[str]:
    """yaml.NewYAMLReader: documents are separated by `---` lines (only a comment may follow)."""
    docs: list[str] = []
    current: list[str] = []
    for line in text.splitlines(keepends=True):
        if line.startswith("---"):
            rest = line[3:].strip()
            if rest and not rest.startswith("#"):
                raise error(f"error parsing {source}: invalid Yaml document separator: {rest}")
            docs.append("".join(current))
            current = []
            continue
        current.append(line)
    docs.append("".join(current))
    return docs


def _yaml_error(source: str, exc: yaml.YAMLError) -> CtlError:
    problem = str(getattr(exc, "problem", "") or exc)
    for needle, go_text in _GO_YAML_PROBLEMS:
        if needle in problem:
            problem = go_text
            break
    else:
        if problem.startswith("expected <block end>") or problem.startswith("expected <block mapping"):
            problem = "did not find expected key"
        elif problem.startswith("expected ',' or ']'"):
            problem = "did not find expected ',' or ']'"
        elif problem.startswith("expected ',' or '}'"):
            problem = "did not find expected ',' or '}'"
    mark = getattr(exc, "problem_mark", None)
    context_mark = getattr(exc, "context_mark", None)
    scanner = isinstance(exc, yaml.scanner.ScannerError)
    line = 0
    if mark is not None and mark.line != 0:
        line = mark.line + 1 if scanner else mark.line
    elif context_mark is not None and context_mark.line != 0:
        line = context_mark.line
    where = f"line {line}: " if line else ""
    return error(f"error parsing {source}: error converting YAML to JSON: yaml: {where}{problem}")


def parse_documents(text: str, source: str) -> list[Manifest]:
    """All objects in one file's text; empty documents are skipped and Lists expanded."""
    stripped = text.lstrip()
    docs: list[Any] = []
    if stripped.startswith("{") or stripped.startswith("["):
        try:
            docs = [json.loads(text)]
        except ValueError as e:
            raise error(f"error parsing {source}: {e}") from e
    else:
        for chunk in _split_documents(text, source):
            if not chunk.strip():
                continue
            try:
                doc = yaml.safe_load(chunk)
            except yaml.YAMLError as e:
                raise _yaml_error(source, e) from e
            docs.append(doc)
    out: list[Manifest] = []
    for doc in docs:
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise _invalid(source, "invalid object to validate")
        out.extend(_expand(doc, source))
    return out


def _invalid(source: str, detail: str) -> CtlError:
    return error(f'error validating "{source}": error validating data: {detail}; if you choose to '
                 "ignore these errors, turn validation off with --validate=false")


def _expand(doc: dict[str, Any], source: str) -> list[Manifest]:
    missing = [f for f in ("apiVersion", "kind") if not doc.get(f)]
    if missing:
        texts = [f"{f} not set" for f in missing]
        raise _invalid(source, texts[0] if len(texts) == 1 else "[" + ", ".join(texts) + "]")
    kind = str(doc["kind"])
    if kind.endswith("List") and isinstance(doc.get("items"), list):
        out: list[Manifest] = []
        for item in doc["items"]:
            if isinstance(item, dict):
                out.extend(_expand(item, source))
        return out
    return [Manifest(doc, source)]


@dataclass
class Info:
    """A manifest resolved against the API: its resource, namespace and name (kubectl's resource.Info)."""

    obj: dict[str, Any]
    source: str
    resource: Resource
    namespace: str | None
    name: str

    @property
    def ref(self) -> str:
        return object_ref(self.resource, self.name)


def resolve_infos(manifests: list[Manifest], namespace: str, enforce_namespace: bool,
                  errors: Errors) -> list[Info]:
    """Namespace from the object, else -n / the context's. Objects kubectl would refuse (unknown kind,
    a namespace other than an explicit -n) are reported in `errors` and skipped."""
    infos: list[Info] = []
    for m in manifests:
        meta = m.obj.get("metadata") or {}
        name = str(meta.get("name") or "")
        obj_ns = str(meta.get("namespace") or "")
        try:
            r = resolve_kind(str(m.obj["apiVersion"]), str(m.obj["kind"]), name, obj_ns, m.source)
        except CtlError as e:
            errors.ctl(e)
            continue
        ns: str | None = None
        if r.namespaced:
            if obj_ns and enforce_namespace and obj_ns != namespace:
                errors.plain(f'the namespace from the provided object "{obj_ns}" does not match the namespace '
                             f'"{namespace}". You must pass \'--namespace={obj_ns}\' to perform this operation.')
                continue
            ns = obj_ns or namespace
            m.obj.setdefault("metadata", {})["namespace"] = ns
        infos.append(Info(m.obj, m.source, r, ns, name))
    return infos
