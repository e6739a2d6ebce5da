"""The cluster registry: Debian's `docker-registry` (the CNCF distribution server), run by `minik up`.

Nodes pull lab images from it over plain HTTP at the host's lab address, as a classroom registry
would be used; `minik up` seeds it with busybox and minik/app:v1|v2 built from local parts.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

import httpx

from minik.cluster.config import ClusterConfig

REGISTRY_BINARY = "docker-registry"
SEED_TIMEOUT = 300.0


def _config_path(cfg: ClusterConfig) -> str:
    return str(cfg.state_dir / "registry" / "config.yml")


def registry_prepare(cfg: ClusterConfig) -> None:
    """Write the registry's config: storage under the state dir, HTTP on every address."""
    directory = cfg.state_dir / "registry"
    (directory / "data").mkdir(parents=True, exist_ok=True)
    (directory / "config.yml").write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        "storage:\n"
        f"  filesystem:\n    rootdirectory: {directory / 'data'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 0.0.0.0:{cfg.registry_port}\n"
    )


def registry_command(cfg: ClusterConfig) -> list[str]:
    binary = shutil.which(REGISTRY_BINARY) or f"/usr/bin/{REGISTRY_BINARY}"
    return [binary, "serve", _config_path(cfg)]


def registry_ready(cfg: ClusterConfig) -> bool:
    """The distribution API answers `GET /v2/` with 200 once it serves."""
    try:
        response = httpx.get(f"http://127.0.0.1:{cfg.registry_port}/v2/", timeout=2.0, trust_env=False)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def seed_lab_images(cfg: ClusterConfig) -> str:
    """Build the lab images into a store under the state dir and push them; returns the pushed names.

    Runs as a child process so a failure comes back as the pusher's own message, and the image
    store it builds lives (and is deleted) with the cluster.
    """
    argv = [
        sys.executable, "-m", "minik.runtime.images.push",
        "--registry", f"127.0.0.1:{cfg.registry_port}",
        "--insecure",
        "--root", str(cfg.state_dir / "registry" / "build"),
    ]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, text=True, timeout=SEED_TIMEOUT)
    if result.returncode != 0:
        raise RuntimeError(f"seeding the registry failed: {result.stderr.strip() or result.stdout.strip()}")
    return result.stdout.strip()
