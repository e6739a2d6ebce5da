"""Import `docker save` tarballs (also what `skopeo copy ... docker-archive:` writes) and OCI archives.

Both are tars of blobs plus an index: Docker's `manifest.json` (config file, RepoTags, layer tars)
or OCI's `index.json` + `blobs/sha256/*`. Either way the blobs go into the content store, digests
verified, and a failed import is rolled back by GC (nothing it stored is referenced).
"""

from __future__ import annotations

import json
import posixpath
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import IO, Any

from minik.runtime.images.extract import safe_name
from minik.runtime.images.store import (
    INDEX_TYPES,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_LAYER_GZIP,
    OCI_MANIFEST,
    Image,
    ImageStore,
)
from minik.runtime.state import CRIError

REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"


class _Archive:
    """Random access to the regular files of an archive by clean name (symlinks followed inside it)."""

    def __init__(self, tf: tarfile.TarFile) -> None:
        self.tf = tf
        self.members: dict[str, tarfile.TarInfo] = {}
        for member in tf.getmembers():
            try:
                name = safe_name(member.name)
            except CRIError:
                continue  # never used as a path on disk; an unsafe name just cannot be referenced
            self.members[name] = member

    def open(self, name: str, depth: int = 0) -> IO[bytes]:
        member = self.members.get(safe_name(name))
        if member is None:
            raise CRIError(f"archive has no {name!r}")
        if member.issym() and depth < 8:
            target = posixpath.normpath(posixpath.join(posixpath.dirname(member.name), member.linkname))
            return self.open(target, depth + 1)
        stream = self.tf.extractfile(member) if member.isreg() or member.islnk() else None
        if stream is None:
            raise CRIError(f"archive entry {name!r} is not a regular file")
        return stream

    def has(self, name: str) -> bool:
        return name in self.members

    def json(self, name: str) -> Any:
        try:
            return json.loads(self.open(name).read())
        except ValueError as error:
            raise CRIError(f"archive entry {name!r} is not valid JSON: {error}") from error


def _is_gzip(stream: IO[bytes]) -> bool:
    return stream.read(2) == b"\x1f\x8b"


def _import_docker(store: ImageStore, archive: _Archive, names: list[str] | None) -> list[Image]:
    entries = archive.json("manifest.json")
    if not isinstance(entries, list) or not entries:
        raise CRIError("manifest.json of a docker archive must be a non-empty list")
    images = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str) or not isinstance(
            entry.get("Layers"), list
        ):
            raise CRIError("manifest.json entry needs Config and Layers")
        config_digest, config_size = store.put_blob(archive.open(entry["Config"]))
        layers = []
        for layer_name in entry["Layers"]:
            gz = _is_gzip(archive.open(str(layer_name)))
            digest, size = store.put_blob(archive.open(str(layer_name)))
            layers.append({"mediaType": OCI_LAYER_GZIP if gz else OCI_LAYER, "digest": digest, "size": size})
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_size},
            "layers": layers,
        }
        tags = names if names is not None else [str(t) for t in entry.get("RepoTags") or []]
        images.append(store.add_image(json.dumps(manifest, separators=(",", ":")).encode(), tags))
    return images


def _blob(store: ImageStore, archive: _Archive, desc: dict[str, Any]) -> bytes:
    digest = str(desc.get("digest", ""))
    path = f"blobs/{digest.replace(':', '/', 1)}"
    store.put_blob(archive.open(path), expected=digest)
    return store.read_blob(digest)


def _platform_manifest(index: dict[str, Any]) -> dict[str, Any]:
    """Pick linux/amd64 (or the only entry) from an image index, as the node's platform."""
    manifests = [m for m in index.get("manifests", []) if isinstance(m, dict)]
    for desc in manifests:
        platform = desc.get("platform") or {}
        if platform.get("os") == "linux" and platform.get("architecture") == "amd64":
            return desc
    unplatformed = [m for m in manifests if not m.get("platform")]
    if len(unplatformed) == 1:
        return unplatformed[0]
    raise CRIError("image index has no linux/amd64 manifest")


def _import_oci(store: ImageStore, archive: _Archive, names: list[str] | None) -> list[Image]:
    index = archive.json("index.json")
    if not isinstance(index, dict):
        raise CRIError("index.json must be an object")
    images = []
    for desc in index.get("manifests", []):
        if not isinstance(desc, dict):
            continue
        annotations = desc.get("annotations") or {}
        ref_names = [str(annotations[CONTAINERD_NAME])] if CONTAINERD_NAME in annotations else []
        if not ref_names and REF_NAME in annotations:
            ref = str(annotations[REF_NAME])
            ref_names = [ref] if ("/" in ref or ":" in ref) else []  # a bare tag names no repository
        raw = _blob(store, archive, desc)
        manifest_desc = desc
        while manifest_desc.get("mediaType") in INDEX_TYPES:
            manifest_desc = _platform_manifest(json.loads(raw))
            raw = _blob(store, archive, manifest_desc)
        manifest = json.loads(raw)
        _blob(store, archive, manifest["config"])
        for layer in manifest["layers"]:
            _blob(store, archive, layer)
        images.append(store.add_image(raw, names if names is not None else ref_names))
    if not images:
        raise CRIError("OCI archive lists no manifests")
    return images


def import_archive(store: ImageStore, path: Path, names: list[str] | None = None) -> list[Image]:
    """Import every image in a docker-save or OCI archive; `names` overrides the names it carries."""
    with store.lock:
        try:
            with tarfile.open(path) as tf:
                archive = _Archive(tf)
                if archive.has("index.json") and archive.has("oci-layout"):
                    return _import_oci(store, archive, names)
                if archive.has("manifest.json"):
                    return _import_docker(store, archive, names)
                raise CRIError(f"{path}: neither a docker archive (manifest.json) nor an OCI archive (index.json)")
        except tarfile.TarError as error:
            store.gc()
            raise CRIError(f"{path}: not a tar archive: {error}") from error
        except (KeyError, TypeError, ValueError, OSError) as error:
            store.gc()
            raise CRIError(f"{path}: cannot import: {error}") from error
        except BaseException:
            store.gc()
            raise


def export_oci_layout(store: ImageStore, refs: list[str], directory: Path) -> None:
    """Write images as an OCI image layout (what `skopeo copy oci:DIR` reads); names become ref.name."""
    (directory / "blobs" / "sha256").mkdir(parents=True, exist_ok=True)
    (directory / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    manifests = []
    for ref in refs:
        image = store.get_image(ref)
        digests = [image.manifest_digest, image.id, *(str(d["digest"]) for d in image.layer_blobs)]
        for digest in digests:
            target = directory / "blobs" / "sha256" / digest.split(":", 1)[1]
            if not target.exists():
                shutil.copyfile(store.blob_path(digest), target)
        parsed = store.normalize(ref)
        manifests.append({
            "mediaType": image.manifest_media_type,
            "digest": image.manifest_digest,
            "size": store.blob_path(image.manifest_digest).stat().st_size,
            "annotations": {CONTAINERD_NAME: str(parsed), REF_NAME: parsed.tag or "latest"},
        })
    (directory / "index.json").write_text(json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX,
                                                      "manifests": manifests}))


def save_oci_archive(store: ImageStore, refs: list[str], path: Path) -> None:
    """An OCI archive (a tar of the layout), importable here and by `skopeo copy oci-archive:`."""
    with tempfile.TemporaryDirectory(prefix="minik-export-") as tmp:
        export_oci_layout(store, refs, Path(tmp))
        with tarfile.open(path, "w") as tf:
            for name in ("oci-layout", "index.json", "blobs"):
                tf.add(Path(tmp) / name, arcname=name)
