"""Pull and push against a real Debian `docker-registry` on 127.0.0.1 (temp config and storage)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from runtime_pods import Pods
from util import free_port, wait_for

from minik.runtime.images.builder import build_lab_images
from minik.runtime.images.push import push, push_lab_images
from minik.runtime.images.reference import parse_reference
from minik.runtime.images.registry import RegistryClient, RegistryConfig, pull
from minik.runtime.images.store import (
    DOCKER_CONFIG,
    DOCKER_LAYER_GZIP,
    DOCKER_MANIFEST,
    OCI_INDEX,
    ImageStore,
)
from minik.runtime.state import CRIError

pytestmark = pytest.mark.root


@pytest.fixture(scope="module")
def registry() -> Iterator[str]:
    """A docker-registry on a free loopback port; its dir names our pid so a killed run is swept."""
    binary = shutil.which("docker-registry")
    if binary is None:
        pytest.fail("docker-registry is not installed (apt package docker-registry)")
    work = Path(tempfile.mkdtemp(prefix=f"minik-test-{os.getpid()}-registry-"))
    port = free_port()
    config = work / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log: {level: warn}\n"
        f"storage: {{filesystem: {{rootdirectory: {work / 'data'}}}, delete: {{enabled: true}}}}\n"
        f"http: {{addr: 127.0.0.1:{port}}}\n"
    )
    log = open(work / "registry.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=2).status_code == 200,
                 message="docker-registry answering /v2/")
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def seeded(registry: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The registry with the lab images pushed by minik's own pusher."""
    store = ImageStore(tmp_path_factory.mktemp("minik-test-pushstore") / "images")
    pushed = push_lab_images(store, registry, RegistryConfig())
    assert pushed == [f"{registry}/busybox:latest", f"{registry}/minik/app:v1", f"{registry}/minik/app:v2"]
    return registry


def fresh_store(tmp_path: Path, registry: str) -> tuple[ImageStore, RegistryConfig]:
    return ImageStore(tmp_path / "minik-test-pull", registry), RegistryConfig(default_registry=registry)


def test_pushed_images_are_listed_by_the_registry(seeded: str) -> None:
    catalog = httpx.get(f"http://{seeded}/v2/_catalog").json()["repositories"]
    assert {"busybox", "minik/app"} <= set(catalog)
    assert sorted(httpx.get(f"http://{seeded}/v2/minik/app/tags/list").json()["tags"]) == ["v1", "v2"]


def test_pull_short_name_through_the_default_registry(seeded: str, tmp_path: Path) -> None:
    store, config = fresh_store(tmp_path, seeded)
    image = pull(store, "busybox", config)
    assert image.repo_tags == [f"{seeded}/busybox:latest"]
    assert image.repo_digests == [f"{seeded}/busybox@{image.manifest_digest}"]
    assert (store.layer_dir(image.layers[0]) / "bin/busybox").is_file()
    again = pull(store, f"{seeded}/busybox:latest", config)  # everything already there: same image
    assert again.id == image.id and len(list((store.root / "layers").iterdir())) == 1


def test_pulled_app_runs_and_shares_the_base_layer(seeded: str, pods: Pods) -> None:
    ref = f"{seeded}/minik/app:v2"
    image_id = pods.runtime.pull_image({"image": ref})
    assert image_id == pods.runtime.images.get_image("minik/app:v2").id  # same content, same digest
    assert pods.runtime.image_status({"image": ref})["image"]["id"] == image_id
    sandbox = pods.sandbox("pulled")
    pods.run(sandbox, image=ref, name="app")
    client = pods.run(sandbox, ["sleep", "600"], name="client")
    reply = wait_for(lambda: pods.exec(client, "wget", "-qO-", "http://127.0.0.1:8080/")[1],
                     message="the pulled app answering")
    assert reply == "You've hit pulled (v2)\n"


def test_pull_by_digest_and_an_unknown_image(seeded: str, tmp_path: Path) -> None:
    store, config = fresh_store(tmp_path, seeded)
    digest = pull(store, "minik/app:v1", config).manifest_digest
    other, _ = fresh_store(tmp_path / "second", seeded)
    by_digest = pull(other, f"minik/app@{digest}", config)
    assert by_digest.manifest_digest == digest
    with pytest.raises(CRIError, match="manifest unknown"):
        pull(other, "minik/app:v404", config)
    assert len(other.list_images()) == 1


def test_index_is_narrowed_to_linux_amd64(seeded: str, tmp_path: Path) -> None:
    store, config = fresh_store(tmp_path, seeded)
    amd64 = pull(store, "minik/app:v1", config)
    size = store.blob_path(amd64.manifest_digest).stat().st_size
    entry = {"mediaType": amd64.manifest_media_type, "digest": amd64.manifest_digest, "size": size}
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {**entry, "platform": {"os": "linux", "architecture": "arm64"}},
        {**entry, "platform": {"os": "linux", "architecture": "amd64"}},
    ]}
    with RegistryClient(parse_reference(f"{seeded}/minik/multi:v1"), config, actions="pull,push") as client:
        for digest in [amd64.id, *(d["digest"] for d in amd64.layer_blobs)]:  # cross-repository blob mount
            mount = client.request("POST", client.url(f"blobs/uploads/?mount={digest}&from=minik/app"))
            assert mount.status_code == 201
        body = store.read_blob(amd64.manifest_digest)
        put = client.request("PUT", client.url(f"manifests/{amd64.manifest_digest}"),
                             {"Content-Type": amd64.manifest_media_type}, content=body)
        assert put.status_code == 201
        put = client.request("PUT", client.url("manifests/v1"), {"Content-Type": OCI_INDEX},
                             content=json.dumps(index).encode())
        assert put.status_code == 201, put.text
    other, _ = fresh_store(tmp_path / "multi", seeded)
    pulled = pull(other, "minik/multi:v1", config)
    assert pulled.id == amd64.id and pulled.repo_tags == [f"{seeded}/minik/multi:v1"]


def test_docker_schema2_manifests_are_pulled(seeded: str, tmp_path: Path) -> None:
    store, config = fresh_store(tmp_path, seeded)
    base = pull(store, "busybox", config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": DOCKER_CONFIG, "digest": base.id, "size": store.blob_path(base.id).stat().st_size},
        "layers": [{**d, "mediaType": DOCKER_LAYER_GZIP} for d in base.layer_blobs],
    }
    store.add_image(json.dumps(manifest).encode(), ["minik/docker-style:v1"])
    push(store, "minik/docker-style:v1", f"{seeded}/minik/docker-style:v1", config)
    other, _ = fresh_store(tmp_path / "docker", seeded)
    pulled = pull(other, "minik/docker-style:v1", config)
    assert pulled.manifest_media_type == DOCKER_MANIFEST and pulled.id == base.id


def test_lab_images_build_is_reproducible(tmp_path: Path) -> None:
    first = [i.id for i in build_lab_images(ImageStore(tmp_path / "a"))]
    second = [i.id for i in build_lab_images(ImageStore(tmp_path / "b"))]
    assert first == second  # same digests every build: the registry and nodes dedupe by digest
