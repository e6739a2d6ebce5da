"""Static pods: manifests in --pod-manifest-path run without the API, each shown there as a mirror pod.

Like the kubelet's file source: every `file-check-frequency` the directory is read; each file holds one
Pod. Its name gets the node name appended (`app` on worker1 runs as `app-worker1`), defaults are applied,
and its UID is a hash of the node, the file and the content, so an edited file is a new pod (the old one
is stopped, the new one started, the mirror replaced). A file that does not parse or validate is
reported (log line and a Warning event on the Node) and skipped; the others keep running.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path

import yaml
from pydantic import ValidationError

from minik.api.core import Pod
from minik.api.defaults import set_defaults
from minik.api.validation import validate
from minik.kubelet.status import now_rfc3339
from minik.kubelet.types import (
    CONFIG_HASH_ANNOTATION,
    CONFIG_MIRROR_ANNOTATION,
    CONFIG_SEEN_ANNOTATION,
    CONFIG_SOURCE_ANNOTATION,
    Obj,
)

log = logging.getLogger(__name__)

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
MAX_MANIFEST_BYTES = 1 << 20


class ManifestError(ValueError):
    """A static pod file that cannot run; the message says which file and why."""


def parse_static_pod(raw: bytes, source: Path, node_name: str) -> Obj:
    """The pod a manifest file describes, ready to run on `node_name` (ManifestError when it is not)."""
    try:
        docs = [d for d in yaml.safe_load_all(raw.decode()) if d is not None]
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise ManifestError(f"{source}: not valid YAML or JSON: {error}") from None
    if len(docs) != 1:
        raise ManifestError(f"{source}: a static pod file holds exactly one Pod, found {len(docs)} documents")
    doc = docs[0]
    if not isinstance(doc, dict) or doc.get("kind") != "Pod" or doc.get("apiVersion") != "v1":
        raise ManifestError(f"{source}: not a v1 Pod (kind {doc.get('kind') if isinstance(doc, dict) else None!r})")
    meta = doc.get("metadata")
    if not isinstance(meta, dict) or not meta.get("name"):
        raise ManifestError(f"{source}: metadata.name is required")
    doc = copy.deepcopy(doc)
    meta = doc["metadata"]
    meta["name"] = f"{meta['name']}-{node_name}"
    meta.setdefault("namespace", "default")
    for key in ("uid", "resourceVersion", "creationTimestamp", "deletionTimestamp", "ownerReferences"):
        meta.pop(key, None)
    doc.pop("status", None)
    spec = doc.setdefault("spec", {})
    if not isinstance(spec, dict):
        raise ManifestError(f"{source}: spec must be an object")
    spec["nodeName"] = node_name
    tolerations = spec.setdefault("tolerations", [])
    if isinstance(tolerations, list) and {"operator": "Exists", "effect": "NoExecute"} not in tolerations:
        tolerations.append({"operator": "Exists", "effect": "NoExecute"})
    annotations = meta.setdefault("annotations", {})
    if not isinstance(annotations, dict):
        raise ManifestError(f"{source}: metadata.annotations must be a map")
    annotations[CONFIG_SOURCE_ANNOTATION] = "file"
    annotations[CONFIG_MIRROR_ANNOTATION] = "placeholder"  # defaults treat it as a mirror (no service account)
    try:
        model = Pod.model_validate(doc)
        set_defaults(model)
        errors = validate(model)
    except (ValidationError, ValueError, TypeError) as error:
        raise ManifestError(f"{source}: invalid pod: {error}") from None
    if errors:
        raise ManifestError(f"{source}: invalid pod: " + "; ".join(str(e) for e in errors))
    pod = model.to_dict()
    pod["metadata"]["annotations"].pop(CONFIG_MIRROR_ANNOTATION, None)
    hasher = hashlib.md5(usedforsecurity=False)
    hasher.update(f"host:{node_name}file:{source}".encode())
    hasher.update(json.dumps(pod, sort_keys=True, separators=(",", ":")).encode())
    uid = hasher.hexdigest()
    pod["metadata"]["uid"] = uid
    pod["metadata"]["annotations"][CONFIG_HASH_ANNOTATION] = uid
    pod["metadata"]["annotations"][CONFIG_SEEN_ANNOTATION] = now_rfc3339()
    pod["status"] = {"phase": "Pending", "qosClass": (pod.get("status") or {}).get("qosClass", "BestEffort")}
    return pod


def build_mirror_pod(pod: Obj, node: Obj | None) -> Obj:
    """The API stand-in for a static pod: same name and spec, annotated with the config hash, owned by the Node."""
    meta = pod["metadata"]
    annotations = dict(meta.get("annotations") or {})
    annotations[CONFIG_MIRROR_ANNOTATION] = annotations.get(CONFIG_HASH_ANNOTATION, meta.get("uid", ""))
    mirror_meta: Obj = {"name": meta["name"], "namespace": meta.get("namespace", "default"),
                        "annotations": annotations}
    if meta.get("labels"):
        mirror_meta["labels"] = dict(meta["labels"])
    node_meta = (node or {}).get("metadata") or {}
    if node_meta.get("uid"):
        mirror_meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": node_meta.get("name"),
                                           "uid": node_meta["uid"], "controller": True}]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": mirror_meta, "spec": copy.deepcopy(pod["spec"])}


class StaticPodSource:
    """Polls the manifest directory and hands the full set of static pods over whenever it changes."""

    def __init__(self, path: Path, node_name: str, on_change: Callable[[list[Obj]], None],
                 on_error: Callable[[str], None], period: float = 20.0) -> None:
        self.path = path
        self.node_name = node_name
        self.on_change = on_change
        self.on_error = on_error
        self.period = period
        self._files: dict[Path, tuple[bytes, Obj | None]] = {}  # file -> (content, pod or None if bad)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._first = True

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="static-pods", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.scan()
            except Exception:
                log.exception("reading static pods from %s failed", self.path)
            self._stop.wait(self.period)

    def _candidates(self) -> list[Path]:
        try:
            entries = sorted(self.path.iterdir())
        except FileNotFoundError:
            return []
        except OSError as error:
            log.warning("cannot read static pod path %s: %s", self.path, error)
            return []
        return [p for p in entries if not p.name.startswith(".") and p.suffix in MANIFEST_SUFFIXES and p.is_file()]

    def scan(self) -> list[Obj]:
        """Read the directory once; calls on_change when the set of pods changed (and on the first scan)."""
        changed = self._first
        seen: dict[Path, tuple[bytes, Obj | None]] = {}
        for file in self._candidates():
            try:
                with open(file, "rb") as f:
                    raw = f.read(MAX_MANIFEST_BYTES + 1)
            except OSError as error:
                log.warning("cannot read static pod file %s: %s", file, error)
                continue
            previous = self._files.get(file)
            if previous is not None and previous[0] == raw:
                seen[file] = previous
                continue
            changed = True
            try:
                if len(raw) > MAX_MANIFEST_BYTES:
                    raise ManifestError(f"{file}: larger than {MAX_MANIFEST_BYTES} bytes")
                pod = parse_static_pod(raw, file, self.node_name)
            except ManifestError as error:
                log.warning("static pod skipped: %s", error)
                self.on_error(str(error))
                seen[file] = (raw, None)
                continue
            seen[file] = (raw, pod)
        if set(seen) != set(self._files):
            changed = True
        self._files = seen
        names: dict[str, Path] = {}
        pods: list[Obj] = []
        for file, (_, parsed) in seen.items():
            if parsed is None:
                continue
            key = f"{parsed['metadata']['namespace']}/{parsed['metadata']['name']}"
            if key in names:
                if changed:
                    self.on_error(f"{file}: pod {key} is already defined by {names[key]}; skipped")
                continue
            names[key] = file
            pods.append(parsed)
        if changed:
            self._first = False
            self.on_change(pods)
        return pods
