"""Build the lab images locally as real OCI images (no public registry is reachable in the labs).

- `busybox:latest`: Debian's static busybox at /bin/busybox plus one symlink per applet
  (sh, httpd, wget, nc, ...), /etc/passwd and /etc/group, a 1777 /tmp.
- `minik/app:v1` and `minik/app:v2`: the busybox layer (shared, unpacked once) plus a layer with a
  busybox httpd CGI answering "You've hit <hostname> (vN)" on port 8080, standing in for the
  course's Node.js app.

Layers are built deterministically (fixed mtimes, sorted entries) so rebuilding gives the same
digests and an image's layers are shared with whatever already uses them.
"""

from __future__ import annotations

import gzip
import io
import json
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

from minik.runtime.images.store import OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, Image, ImageStore, sha256_digest
from minik.runtime.state import CRIError

EPOCH = 946684800  # 2000-01-01: any fixed time keeps digests reproducible
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
APP_PORT = 8080


def busybox_binary() -> Path:
    """The static busybox on this host (Debian's busybox-static)."""
    for candidate in ("/bin/busybox", "/usr/bin/busybox"):
        if Path(candidate).is_file():
            return Path(candidate)
    found = shutil.which("busybox")
    if not found:
        raise CRIError("busybox not found: install the busybox-static package")
    return Path(found)


class LayerBuilder:
    """Accumulates entries and writes a deterministic gzip tar layer."""

    def __init__(self) -> None:
        self.entries: list[tuple[tarfile.TarInfo, bytes | None]] = []

    def _info(self, name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.mode = mode
        info.mtime = EPOCH
        info.uname = info.gname = "root"
        return info

    def dir(self, name: str, mode: int = 0o755) -> None:
        self.entries.append((self._info(name, tarfile.DIRTYPE, mode), None))

    def file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        info = self._info(name, tarfile.REGTYPE, mode)
        info.size = len(data)
        self.entries.append((info, data))

    def symlink(self, name: str, target: str) -> None:
        info = self._info(name, tarfile.SYMTYPE, 0o777)
        info.linkname = target
        self.entries.append((info, None))

    def build(self) -> tuple[bytes, str]:
        """(gzip blob, diff_id)."""
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
            for info, data in sorted(self.entries, key=lambda e: e[0].name):
                tf.addfile(info, io.BytesIO(data) if data is not None else None)
        tar = raw.getvalue()
        compressed = gzip.compress(tar, mtime=0)
        return compressed, sha256_digest(tar)


def busybox_layer() -> LayerBuilder:
    layer = LayerBuilder()
    for name in ("bin", "dev", "etc", "home", "proc", "root", "sys", "usr", "usr/bin", "usr/sbin", "sbin", "var",
                 "var/www"):
        layer.dir(name, 0o700 if name == "root" else 0o755)
    layer.dir("tmp", 0o1777)
    binary = busybox_binary()
    layer.file("bin/busybox", binary.read_bytes(), 0o755)
    applets = subprocess.run([str(binary), "--list"], capture_output=True, text=True, check=True).stdout.split()
    for applet in applets:
        if applet != "busybox" and "/" not in applet:
            layer.symlink(f"bin/{applet}", "busybox")
    layer.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n")
    layer.file("etc/group", b"root:x:0:\nnobody:x:65534:\n")
    return layer


def app_layer(version: str) -> LayerBuilder:
    layer = LayerBuilder()
    for name in ("app", "app/www", "app/www/cgi-bin"):
        layer.dir(name)
    cgi = (
        "#!/bin/sh\n"
        "# busybox httpd runs this for GET / (there is no index.html)\n"
        'printf "Content-Type: text/plain\\r\\n\\r\\n"\n'
        f'echo "You\'ve hit $(hostname) ({version})"\n'
    )
    layer.file("app/www/cgi-bin/index.cgi", cgi.encode(), 0o755)
    start = (
        "#!/bin/sh\n"
        f'echo "minik app {version} listening on port {APP_PORT}"\n'
        f"exec httpd -f -v -p {APP_PORT} -h /app/www\n"
    )
    layer.file("app/start.sh", start.encode(), 0o755)
    layer.file("app/VERSION", f"{version}\n".encode())
    return layer


def build_image(store: ImageStore, layers: list[LayerBuilder], exec_config: dict[str, Any], names: list[str]) -> Image:
    """Write the layers, config and manifest as blobs and record the image under `names`."""
    descriptors = []
    diff_ids = []
    for layer in layers:
        blob, diff_id = layer.build()
        digest, size = store.put_blob(blob)
        descriptors.append({"mediaType": OCI_LAYER_GZIP, "digest": digest, "size": size})
        diff_ids.append(diff_id)
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2000-01-01T00:00:00Z",
        "config": exec_config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2000-01-01T00:00:00Z", "created_by": "minik lab image builder"} for _ in layers],
    }
    config_bytes = json.dumps(config, sort_keys=True, separators=(",", ":")).encode()
    config_digest, config_size = store.put_blob(config_bytes)
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_size},
        "layers": descriptors,
    }
    return store.add_image(json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode(), names)


def build_lab_images(store: ImageStore, registry: str | None = None) -> list[Image]:
    """Build busybox, minik/app:v1 and minik/app:v2 into `store` (names under `registry` if given)."""
    prefix = f"{registry}/" if registry else ""
    base = busybox_layer()
    with store.lock:
        images = [build_image(store, [base], {"Env": [DEFAULT_PATH], "Cmd": ["sh"]}, [f"{prefix}busybox:latest"])]
        for version in ("v1", "v2"):
            exec_config = {
                "Env": [DEFAULT_PATH, f"APP_VERSION={version}"],
                "Entrypoint": ["/app/start.sh"],
                "ExposedPorts": {f"{APP_PORT}/tcp": {}},
                "WorkingDir": "/app",
            }
            images.append(build_image(store, [base, app_layer(version)], exec_config, [f"{prefix}minik/app:{version}"]))
        return images
