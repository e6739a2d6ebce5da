"""Content-addressed image store: blobs by sha256, each layer unpacked once and shared by images.

Layout under the store root (every path is something a learner can `ls`):

    blobs/sha256/<hex>        manifests, configs and layer tars exactly as pulled or imported
    layers/<diffid-hex>/fs    one unpacked layer = one overlay lowerdir, shared by every image using it
    images/<config-hex>.json  an image: its names, manifest, config and ordered layer diff_ids
    leases/<owner>.json       layers a container's overlay is using (so GC keeps them)

Reference counts are computed from the image records and leases (the only sources of truth), so a
crash can never leave a wrong counter behind; GC deletes layers and blobs nobody references.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import secrets
import shutil
import threading
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from minik.runtime.images.extract import extract_layer
from minik.runtime.images.reference import DOCKER_HUB, Reference, parse_reference
from minik.runtime.state import CRIError, NotFoundError, read_json, write_json

log = logging.getLogger("minik.runtime")

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
LAYER_TYPES = (
    OCI_LAYER,
    OCI_LAYER_GZIP,
    DOCKER_LAYER,
    DOCKER_LAYER_GZIP,
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
)


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def digest_hex(digest: str) -> str:
    """The hex part of `sha256:<hex>`, validated (it becomes a file name)."""
    algo, _, hexpart = digest.partition(":")
    if algo != "sha256" or len(hexpart) != 64 or any(c not in "0123456789abcdef" for c in hexpart):
        raise CRIError(f"unsupported or malformed digest {digest!r}")
    return hexpart


@dataclass
class Image:
    """One image record; `config` is the OCI image config (Entrypoint, Cmd, Env, User, ...)."""

    id: str  # the config digest, like Docker and containerd
    repo_tags: list[str]
    repo_digests: list[str]
    manifest_digest: str
    manifest_media_type: str
    config: dict[str, Any]
    layers: list[str]  # diff_ids, bottom first
    size: int
    layer_blobs: list[dict[str, Any]] = field(default_factory=list)  # manifest layer descriptors

    @property
    def exec_config(self) -> dict[str, Any]:
        cfg = self.config.get("config")
        return cfg if isinstance(cfg, dict) else {}

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "repo_tags": self.repo_tags,
            "repo_digests": self.repo_digests,
            "manifest_digest": self.manifest_digest,
            "manifest_media_type": self.manifest_media_type,
            "config": self.config,
            "layers": self.layers,
            "size": self.size,
            "layer_blobs": self.layer_blobs,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Image:
        return cls(
            id=str(data["id"]),
            repo_tags=[str(t) for t in data.get("repo_tags", [])],
            repo_digests=[str(t) for t in data.get("repo_digests", [])],
            manifest_digest=str(data["manifest_digest"]),
            manifest_media_type=str(data.get("manifest_media_type", OCI_MANIFEST)),
            config=dict(data.get("config", {})),
            layers=[str(x) for x in data["layers"]],
            size=int(data.get("size", 0)),
            layer_blobs=list(data.get("layer_blobs", [])),
        )


class ImageStore:
    """Thread-safe: the runtime daemon serves requests from a thread pool."""

    def __init__(self, root: Path, default_registry: str = DOCKER_HUB) -> None:
        self.root = root
        self.default_registry = default_registry
        self.lock = threading.RLock()
        for sub in ("blobs/sha256", "layers", "images", "leases", "tmp"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        self._clean_tmp()

    def _clean_tmp(self) -> None:
        """Half-written blobs and layers of a killed run are garbage: nothing refers to them."""
        for entry in (self.root / "tmp").iterdir():
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)

    def _tmp_path(self, kind: str) -> Path:
        return self.root / "tmp" / f"{kind}-{secrets.token_hex(8)}"

    # ------------------------------------------------------------------ blobs

    def blob_path(self, digest: str) -> Path:
        return self.root / "blobs" / "sha256" / digest_hex(digest)

    def has_blob(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    def read_blob(self, digest: str) -> bytes:
        try:
            return self.blob_path(digest).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"blob {digest} not found") from None

    def put_blob(self, stream: Readable | bytes, expected: str | None = None) -> tuple[str, int]:
        """Store a blob, verifying its digest; a mismatch stores nothing."""
        if isinstance(stream, bytes):
            stream = io.BytesIO(stream)
        assert not isinstance(stream, bytes)
        tmp = self._tmp_path("blob")
        hasher = hashlib.sha256()
        size = 0
        try:
            with open(tmp, "wb") as out:
                while chunk := stream.read(1 << 20):
                    hasher.update(chunk)
                    out.write(chunk)
                    size += len(chunk)
            digest = "sha256:" + hasher.hexdigest()
            if expected is not None and digest != expected:
                raise CRIError(f"digest mismatch: expected {expected}, got {digest}")
            os.replace(tmp, self.blob_path(digest))
        finally:
            tmp.unlink(missing_ok=True)
        return digest, size

    # ------------------------------------------------------------------ layers

    def layer_dir(self, diff_id: str) -> Path:
        """The overlay lowerdir of a layer."""
        return self.root / "layers" / digest_hex(diff_id) / "fs"

    def has_layer(self, diff_id: str) -> bool:
        return self.layer_dir(diff_id).is_dir()

    def unpack_layer(self, blob_digest: str, diff_id: str) -> bool:
        """Unpack a layer blob once; returns False when it was already there (shared by another image)."""
        with self.lock:
            if self.has_layer(diff_id):
                return False
            tmp = self._tmp_path("layer")
            (tmp / "fs").mkdir(parents=True)
            try:
                with open(self.blob_path(blob_digest), "rb") as raw:
                    result = extract_layer(raw, tmp / "fs")
                if result.diff_id != diff_id:
                    raise CRIError(f"layer {blob_digest}: content is {result.diff_id}, config says {diff_id}")
                write_json(tmp / "layer.json", {"diff_id": diff_id, "blob": blob_digest, "size": result.size})
                os.replace(tmp, self.layer_dir(diff_id).parent)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
            return True

    def layer_size(self, diff_id: str) -> int:
        meta = read_json(self.layer_dir(diff_id).parent / "layer.json") or {}
        size = meta.get("size", 0)
        return size if isinstance(size, int) else 0

    # ------------------------------------------------------------------ images

    def _image_path(self, image_id: str) -> Path:
        return self.root / "images" / f"{digest_hex(image_id)}.json"

    def list_images(self) -> list[Image]:
        images = []
        for path in sorted((self.root / "images").glob("*.json")):
            data = read_json(path)
            if data is None:
                continue
            try:
                images.append(Image.from_json(data))
            except (KeyError, TypeError, ValueError) as error:
                log.warning("corrupt image record %s skipped: %s", path, error)
        return images

    def normalize(self, ref: str) -> Reference:
        return parse_reference(ref, self.default_registry)

    def find_image(self, ref: str) -> Image | None:
        """By id (full or a unique 12+ hex prefix), by `name:tag`, or by `name@digest`."""
        candidate = ref[7:] if ref.startswith("sha256:") else ref
        images = self.list_images()
        if len(candidate) >= 12 and all(c in "0123456789abcdef" for c in candidate):
            matches = [i for i in images if digest_hex(i.id).startswith(candidate)]
            if len(matches) == 1:
                return matches[0]
        try:
            parsed = self.normalize(ref)
        except CRIError:
            return None
        wanted = str(parsed)
        for image in images:
            if wanted in image.repo_tags or wanted in image.repo_digests:
                return image
        return None

    def get_image(self, ref: str) -> Image:
        image = self.find_image(ref)
        if image is None:
            raise NotFoundError(f"image {ref!r} not found")
        return image

    def add_image(self, manifest_bytes: bytes, names: Iterable[str] = ()) -> Image:
        """Record an image whose manifest, config and layer blobs are in the store; unpack its layers.

        `names` are references (tags or name@digest); a name already on another image moves here,
        as `docker tag` and `ctr images tag` do.
        """
        try:
            manifest = json.loads(manifest_bytes)
            config_desc = manifest["config"]
            layer_descs = list(manifest["layers"])
        except (ValueError, KeyError, TypeError) as error:
            raise CRIError(f"malformed image manifest: {error}") from error
        media_type = str(manifest.get("mediaType") or OCI_MANIFEST)
        if media_type not in MANIFEST_TYPES:
            raise CRIError(f"unsupported manifest media type {media_type!r}")
        manifest_digest, _ = self.put_blob(manifest_bytes)
        config_digest = str(config_desc.get("digest", ""))
        try:
            config = json.loads(self.read_blob(config_digest))
            diff_ids = [str(d) for d in config["rootfs"]["diff_ids"]]
        except (ValueError, KeyError, TypeError) as error:
            raise CRIError(f"malformed image config {config_digest}: {error}") from error
        if len(diff_ids) != len(layer_descs):
            raise CRIError(f"image config lists {len(diff_ids)} layers, manifest {len(layer_descs)}")
        with self.lock:
            for desc, diff_id in zip(layer_descs, diff_ids, strict=True):
                if desc.get("mediaType") not in LAYER_TYPES:
                    raise CRIError(f"unsupported layer media type {desc.get('mediaType')!r}")
                self.unpack_layer(str(desc["digest"]), diff_id)
            tags: list[str] = []
            digests: list[str] = []
            for name in names:
                parsed = self.normalize(name)
                if parsed.digest:
                    digests.append(str(parsed))
                else:
                    tags.append(str(parsed))
                    digests.append(f"{parsed.name}@{manifest_digest}")
            previous = self.find_image(config_digest)
            image = Image(
                id=config_digest,
                repo_tags=sorted(set(tags) | set(previous.repo_tags if previous else [])),
                repo_digests=sorted(set(digests) | set(previous.repo_digests if previous else [])),
                manifest_digest=manifest_digest,
                manifest_media_type=media_type,
                config=config,
                layers=diff_ids,
                size=sum(int(d.get("size", 0)) for d in layer_descs),
                layer_blobs=layer_descs,
            )
            for other in self.list_images():
                if other.id == image.id:
                    continue
                kept = [t for t in other.repo_tags if t not in image.repo_tags]
                if kept != other.repo_tags:
                    other.repo_tags = kept
                    write_json(self._image_path(other.id), other.to_json())
            write_json(self._image_path(image.id), image.to_json())
            return image

    def remove_image(self, ref: str) -> bool:
        """Forget the image and GC what only it used; False when there was no such image (idempotent)."""
        with self.lock:
            image = self.find_image(ref)
            if image is None:
                return False
            self._image_path(image.id).unlink(missing_ok=True)
            self.gc()
            return True

    # ------------------------------------------------------------------ leases, refcounts, GC

    def lease(self, owner: str, image: Image) -> list[Path]:
        """Pin an image's layers for a container; returns the overlay lowerdirs, top layer first."""
        with self.lock:
            missing = [d for d in image.layers if not self.has_layer(d)]
            if missing:
                raise CRIError(f"image {image.id} is missing layers {missing}: pull it again")
            write_json(self.root / "leases" / f"{owner}.json", {"image": image.id, "layers": image.layers})
            return [self.layer_dir(d) for d in reversed(image.layers)]

    def release(self, owner: str) -> None:
        with self.lock:
            (self.root / "leases" / f"{owner}.json").unlink(missing_ok=True)

    def layer_refcounts(self) -> Counter[str]:
        """How many images and containers use each layer diff_id."""
        counts: Counter[str] = Counter()
        for image in self.list_images():
            counts.update(set(image.layers))
        for path in (self.root / "leases").glob("*.json"):
            data = read_json(path)
            layers = data.get("layers") if data else None
            if isinstance(layers, list):
                counts.update({str(x) for x in layers})
        return counts

    def gc(self) -> dict[str, int]:
        """Delete unreferenced layers and blobs; returns how many of each went."""
        with self.lock:
            used_layers = {digest_hex(d) for d in self.layer_refcounts() if d.startswith("sha256:")}
            used_blobs: set[str] = set()
            for image in self.list_images():
                used_blobs.add(digest_hex(image.manifest_digest))
                used_blobs.add(digest_hex(image.id))
                for desc in image.layer_blobs:
                    try:
                        used_blobs.add(digest_hex(str(desc.get("digest", ""))))
                    except CRIError:
                        continue
            removed = {"layers": 0, "blobs": 0}
            for entry in (self.root / "layers").iterdir():
                if entry.name not in used_layers:
                    shutil.rmtree(entry, ignore_errors=True)
                    removed["layers"] += 1
            for entry in (self.root / "blobs" / "sha256").iterdir():
                if entry.name not in used_blobs:
                    entry.unlink(missing_ok=True)
                    removed["blobs"] += 1
            return removed
