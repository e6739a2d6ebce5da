"""Image references: `busybox`, `minik/app:v1`, `127.0.0.1:5000/minik/app@sha256:...`.

Short names are completed with the node's default registry, the way containerd and Docker do
(Docker Hub's single-name repositories live under `library/`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from minik.runtime.state import CRIError

DOCKER_HUB = "docker.io"
_PATH = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


class InvalidReferenceError(CRIError):
    """Not a valid image reference."""


@dataclass(frozen=True)
class Reference:
    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """registry/repository, e.g. docker.io/library/busybox."""
        return f"{self.registry}/{self.repository}"

    def __str__(self) -> str:
        if self.digest:
            return f"{self.name}@{self.digest}"
        return f"{self.name}:{self.tag or 'latest'}"


def _is_domain(part: str) -> bool:
    return "." in part or ":" in part or part == "localhost"


def parse_reference(text: str, default_registry: str = DOCKER_HUB) -> Reference:
    """Parse and normalize; raises InvalidReferenceError with a message naming what is wrong."""
    raw = text.strip()
    if not raw:
        raise InvalidReferenceError("empty image reference")
    digest: str | None = None
    if "@" in raw:
        raw, digest = raw.split("@", 1)
        if not _DIGEST.match(digest):
            raise InvalidReferenceError(f"invalid image reference {text!r}: bad digest {digest!r}")
    tag: str | None = None
    last = raw.rsplit("/", 1)[-1]
    if ":" in last:
        raw, tag = raw.rsplit(":", 1)
        if not _TAG.match(tag):
            raise InvalidReferenceError(f"invalid image reference {text!r}: bad tag {tag!r}")
    first, _, rest = raw.partition("/")
    if rest and _is_domain(first):
        registry, path = first, rest
    else:
        registry, path = default_registry, raw
    if registry == "index.docker.io":
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if not _PATH.match(path):
        raise InvalidReferenceError(f"invalid image reference {text!r}: bad repository name {path!r}")
    if tag is None and digest is None:
        tag = "latest"
    return Reference(registry=registry, repository=path, tag=tag, digest=digest)
