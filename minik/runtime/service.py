"""The runtime's CRI-shaped API in one place (RuntimeService + ImageService method names).

Signatures follow the kubelet's `internalapi` interfaces: messages are dicts with the CRI proto's
snake_case field names; the daemon serves exactly these methods and RuntimeClient mirrors them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from minik import __version__
from minik.runtime.cgroups import Cgroups, open_cgroups
from minik.runtime.containers import CREATED, EXITED, RUNNING, Containers
from minik.runtime.images.registry import RegistryConfig, pull
from minik.runtime.images.store import Image, ImageStore
from minik.runtime.network import LoopbackOnly, NetworkPlugin
from minik.runtime.process import HelperLauncher
from minik.runtime.sandboxes import SANDBOX_READY, Sandboxes
from minik.runtime.state import DEFAULT_ROOT, CRIError, NotFoundError

RUNTIME_NAME = "minik"
API_VERSION = "v1"


def _labels_match(labels: dict[str, str], selector: dict[str, str] | None) -> bool:
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def image_message(image: Image) -> dict[str, Any]:
    """A CRI Image: id, tags, digests, size, and the user the image runs as."""
    user = str(image.exec_config.get("User") or "")
    name = user.split(":", 1)[0]
    message: dict[str, Any] = {
        "id": image.id,
        "repo_tags": image.repo_tags,
        "repo_digests": image.repo_digests,
        "size": image.size,
        "spec": {"image": image.id},
        "pinned": False,
    }
    if name.isdigit():
        message["uid"] = {"value": int(name)}
    elif name:
        message["username"] = name
    return message


class Runtime:
    """One node's runtime: pods, containers and images under `root`, cgroups under `cgroup_parent`."""

    def __init__(
        self,
        root: Path = DEFAULT_ROOT,
        cgroup_parent: str = "minik",
        registry: RegistryConfig | None = None,
        network: NetworkPlugin | None = None,
        cgroups: Cgroups | None = None,
        log_max_size: int = 10 << 20,
        log_max_files: int = 5,
    ) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.registry = registry or RegistryConfig()
        self.cgroups = cgroups or open_cgroups(cgroup_parent)
        self.images = ImageStore(root / "images", self.registry.default_registry)
        self.helpers = HelperLauncher(str(root), root / "zygote.log")
        self.helpers.start()  # warm it up while the first pod is still being asked for
        self.sandboxes = Sandboxes(root, self.cgroups, network or LoopbackOnly(), self.helpers)
        self.containers = Containers(root, self.cgroups, self.images, self.sandboxes, log_max_size, log_max_files)

    # ---------------------------------------------------------------- runtime info

    def version(self) -> dict[str, Any]:
        return {"version": "0.1.0", "runtime_name": RUNTIME_NAME, "runtime_version": __version__,
                "runtime_api_version": API_VERSION}

    def status(self) -> dict[str, Any]:
        return {
            "conditions": [
                {"type": "RuntimeReady", "status": True, "reason": "", "message": ""},
                {"type": "NetworkReady", "status": True, "reason": "", "message": ""},
            ],
            "info": {"cgroup_version": self.cgroups.version, "root": str(self.root),
                     "cgroup_parent": self.cgroups.parent, "default_registry": self.registry.default_registry},
        }

    # ---------------------------------------------------------------- sandboxes

    def run_pod_sandbox(self, config: dict[str, Any], runtime_handler: str = "") -> str:
        return self.sandboxes.run(config)

    def stop_pod_sandbox(self, pod_sandbox_id: str) -> None:
        """Kill the pod's containers and its pause process; keeps state until remove. Idempotent.
        Waits for a sandbox still being created (its lock), then reads its final record."""
        try:
            sandbox_id = self.sandboxes.get(pod_sandbox_id)["id"]
        except NotFoundError:
            return
        with self.sandboxes.locked(sandbox_id):
            record = self.sandboxes.record(sandbox_id)
            if record is None:  # removed while we waited
                return
            for container in self.containers.all():
                if container.get("pod_sandbox_id") == sandbox_id:
                    self.containers.stop(container["id"], 0)
            self.sandboxes.stop_pause(record)

    def remove_pod_sandbox(self, pod_sandbox_id: str) -> None:
        try:
            sandbox_id = self.sandboxes.get(pod_sandbox_id)["id"]
        except NotFoundError:
            return
        with self.sandboxes.locked(sandbox_id):
            record = self.sandboxes.record(sandbox_id)
            if record is None:
                return
            self.stop_pod_sandbox(sandbox_id)
            for container in self.containers.all():
                if container.get("pod_sandbox_id") == sandbox_id:
                    self.containers.remove(container["id"])
            self.sandboxes.remove_dir(record)
        self.sandboxes.forget(sandbox_id)

    def pod_sandbox_status(self, pod_sandbox_id: str, verbose: bool = False) -> dict[str, Any]:
        record = self.sandboxes.get(pod_sandbox_id)
        status = self.sandboxes.status(record)
        info = status.pop("info")
        if verbose:
            info["veth"] = self.sandboxes.veth(record)
        return {"status": status, "info": info if verbose else {}}

    def list_pod_sandbox(self, filter: dict[str, Any] | None = None) -> list[dict[str, Any]]:  # noqa: A002 - CRI name
        filter = filter or {}
        items = []
        for record in self.sandboxes.all():
            state = self.sandboxes.state(record)
            if filter.get("id") and not record["id"].startswith(str(filter["id"])):
                continue
            if (filter.get("state") or {}).get("state") not in (None, state):
                continue
            if not _labels_match(record.get("labels", {}), filter.get("label_selector")):
                continue
            items.append({
                "id": record["id"],
                "metadata": record.get("metadata", {}),
                "state": state,
                "created_at": record.get("created_at", 0),
                "labels": record.get("labels", {}),
                "annotations": record.get("annotations", {}),
            })
        return items

    # ---------------------------------------------------------------- containers

    def create_container(self, pod_sandbox_id: str, config: dict[str, Any],
                         sandbox_config: dict[str, Any] | None = None) -> str:
        return self.containers.create(pod_sandbox_id, config, sandbox_config)

    def start_container(self, container_id: str) -> None:
        self.containers.start(container_id)

    def stop_container(self, container_id: str, timeout: int | float = 0) -> None:
        try:
            self.containers.stop(container_id, timeout)
        except NotFoundError:
            return

    def remove_container(self, container_id: str) -> None:
        self.containers.remove(container_id)

    def list_containers(self, filter: dict[str, Any] | None = None) -> list[dict[str, Any]]:  # noqa: A002
        filter = filter or {}
        items = []
        for record in self.containers.all():
            state = self.containers.state(record)
            if filter.get("id") and not record["id"].startswith(str(filter["id"])):
                continue
            if filter.get("pod_sandbox_id") and not str(record.get("pod_sandbox_id", "")).startswith(
                str(filter["pod_sandbox_id"])
            ):
                continue
            if (filter.get("state") or {}).get("state") not in (None, state):
                continue
            if not _labels_match(record.get("labels", {}), filter.get("label_selector")):
                continue
            items.append({
                "id": record["id"],
                "pod_sandbox_id": record.get("pod_sandbox_id", ""),
                "metadata": record.get("metadata", {}),
                "image": record.get("image", {}),
                "image_ref": record.get("image_id", ""),
                "state": state,
                "created_at": record.get("created_at", 0),
                "labels": record.get("labels", {}),
                "annotations": record.get("annotations", {}),
            })
        return items

    def container_status(self, container_id: str, verbose: bool = False) -> dict[str, Any]:
        record = self.containers.get(container_id)
        return {"status": self.containers.status(record), "info": self.containers.info(record) if verbose else {}}

    def container_stats(self, container_id: str) -> dict[str, Any]:
        return self.containers.stats(self.containers.get(container_id))

    def list_container_stats(self, filter: dict[str, Any] | None = None) -> list[dict[str, Any]]:  # noqa: A002
        stats = []
        for item in self.list_containers(filter):
            if item["state"] == RUNNING:
                stats.append(self.containers.stats(self.containers.get(item["id"])))
        return stats

    def exec_sync(self, container_id: str, cmd: list[str], timeout: int | float = 0) -> dict[str, Any]:
        """{stdout: bytes, stderr: bytes, exit_code: int}."""
        return self.containers.exec_sync(container_id, cmd, timeout)

    # ---------------------------------------------------------------- images

    def pull_image(self, image: dict[str, Any], auth: dict[str, Any] | None = None,
                   sandbox_config: dict[str, Any] | None = None) -> str:
        """Pull from the registry; returns the image id (the config digest)."""
        ref = str(image.get("image") or "")
        if not ref:
            raise CRIError("pull_image needs image.image")
        return pull(self.images, ref, self.registry, auth).id

    def image_status(self, image: dict[str, Any], verbose: bool = False) -> dict[str, Any]:
        """{"image": CRI Image} or {"image": None} when not present (not an error, per CRI)."""
        found = self.images.find_image(str(image.get("image") or ""))
        if found is None:
            return {"image": None, "info": {}}
        info = {"layers": found.layers, "config": found.config} if verbose else {}
        return {"image": image_message(found), "info": info}

    def list_images(self, filter: dict[str, Any] | None = None) -> list[dict[str, Any]]:  # noqa: A002
        wanted = str(((filter or {}).get("image") or {}).get("image") or "")
        images = self.images.list_images()
        if wanted:
            match = self.images.find_image(wanted)
            images = [match] if match else []
        return [image_message(i) for i in images]

    def remove_image(self, image: dict[str, Any]) -> None:
        """Removing an absent image is not an error (CRI); layers in use by containers stay leased."""
        self.images.remove_image(str(image.get("image") or ""))

    def image_fs_info(self) -> list[dict[str, Any]]:
        used = sum(self.images.layer_size(d) for d in self.images.layer_refcounts())
        return [{"timestamp": 0, "fs_id": {"mountpoint": str(self.images.root)}, "used_bytes": {"value": used}}]


__all__ = ["Runtime", "CREATED", "RUNNING", "EXITED", "SANDBOX_READY", "image_message"]
