"""Pushing images to a registry (OCI distribution API): how `make up` seeds the cluster registry.

For each blob: HEAD to skip what the registry has, else POST an upload session and PUT the bytes
with `?digest=` (a monolithic upload). Then PUT the manifest under the tag, byte for byte, so the
registry's digest equals ours.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from minik.runtime.images.reference import parse_reference
from minik.runtime.images.registry import RegistryClient, RegistryConfig
from minik.runtime.images.store import ImageStore
from minik.runtime.state import DEFAULT_ROOT, CRIError, log


def push(store: ImageStore, local_ref: str, remote_ref: str, config: RegistryConfig,
         auth: dict[str, str] | None = None) -> str:
    """Push the local image `local_ref` as `remote_ref`; returns the manifest digest."""
    image = store.get_image(local_ref)
    target = parse_reference(remote_ref, config.default_registry)
    if target.digest:
        raise CRIError("push to a tag, not a digest")
    with RegistryClient(target, config, auth, actions="pull,push") as client:
        for digest in [image.id, *(str(d["digest"]) for d in image.layer_blobs)]:
            head = client.request("HEAD", client.url(f"blobs/{digest}"))
            if head.status_code == 200:
                continue
            start = client.request("POST", client.url("blobs/uploads/"))
            if start.status_code != 202 or "location" not in start.headers:
                raise CRIError(f"{target}: starting an upload failed: HTTP {start.status_code} {start.text[:200]}")
            location = start.headers["location"]
            if location.startswith("/"):
                location = client.base + location
            separator = "&" if "?" in location else "?"
            done = client.request(
                "PUT",
                f"{location}{separator}digest={digest}",
                {"Content-Type": "application/octet-stream"},
                content=store.blob_path(digest).read_bytes(),
            )
            if done.status_code != 201:
                raise CRIError(f"{target}: uploading {digest} failed: HTTP {done.status_code} {done.text[:200]}")
        manifest = store.read_blob(image.manifest_digest)
        put = client.request("PUT", client.url(f"manifests/{target.tag}"), {"Content-Type": image.manifest_media_type},
                             content=manifest)
        if put.status_code not in (200, 201):
            raise CRIError(f"{target}: pushing the manifest failed: HTTP {put.status_code} {put.text[:200]}")
    log.info("pushed %s as %s", local_ref, target)
    return image.manifest_digest


def push_lab_images(store: ImageStore, registry: str, config: RegistryConfig) -> list[str]:
    """Build (if needed) and push busybox, minik/app:v1 and minik/app:v2 to `registry`."""
    from minik.runtime.images.builder import build_lab_images

    pushed = []
    for image in build_lab_images(store):
        for tag in image.repo_tags:
            ref = parse_reference(tag)
            path = ref.repository.removeprefix("library/") if ref.registry == "docker.io" else ref.repository
            remote = f"{registry}/{path}:{ref.tag}"
            push(store, tag, remote, config)
            pushed.append(remote)
    return pushed


def main(argv: list[str] | None = None) -> int:
    """`python -m minik.runtime.images.push --registry HOST:PORT`: seed a registry with the lab images."""
    parser = argparse.ArgumentParser(prog="minik-push-lab-images", description=main.__doc__)
    parser.add_argument("--registry", required=True, help="host:port of the registry")
    parser.add_argument("--root", type=Path, default=DEFAULT_ROOT / "images", help="image store to build into")
    parser.add_argument("--insecure", action="store_true", help="speak plain HTTP to the registry")
    args = parser.parse_args(argv)
    config = RegistryConfig(insecure=[args.registry] if args.insecure else [])
    try:
        for remote in push_lab_images(ImageStore(args.root), args.registry, config):
            print(f"pushed {remote}")
    except CRIError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
