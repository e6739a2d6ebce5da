"""Registry pulls against an in-process fake registry: bearer tokens, index selection, digests."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from minik.runtime.images.builder import LayerBuilder
from minik.runtime.images.registry import RegistryConfig, pull
from minik.runtime.images.store import OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST, ImageStore, sha256_digest
from minik.runtime.state import CRIError


class FakeRegistry:
    """Serves one repository behind token auth, the way Docker Hub does."""

    def __init__(self, tamper: bool = False) -> None:
        layer = LayerBuilder()
        layer.file("hello.txt", b"hi\n")
        blob, diff_id = layer.build()
        config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["cat", "/hello.txt"]},
                             "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
        self.blobs = {sha256_digest(blob): blob, sha256_digest(config): config}
        manifest = json.dumps({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": sha256_digest(config), "size": len(config)},
            "layers": [{"mediaType": OCI_LAYER_GZIP, "digest": sha256_digest(blob), "size": len(blob)}],
        }).encode()
        index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": "sha256:" + "0" * 64, "size": 1,
             "platform": {"os": "linux", "architecture": "arm64"}},
            {"mediaType": OCI_MANIFEST, "digest": sha256_digest(manifest), "size": len(manifest),
             "platform": {"os": "linux", "architecture": "amd64"}},
        ]}).encode()
        self.manifests = {"v1": (index, OCI_INDEX), sha256_digest(manifest): (manifest, OCI_MANIFEST)}
        if tamper:
            self.blobs[sha256_digest(blob)] = blob + b"tampered"
        self.token_requests: list[httpx.Request] = []
        self.config_digest = sha256_digest(config)

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.test":
            self.token_requests.append(request)
            return httpx.Response(200, json={"token": "secret-token"})
        if request.headers.get("authorization") != "Bearer secret-token":
            challenge = 'Bearer realm="https://auth.test/token",service="reg.test"'
            return httpx.Response(401, headers={"WWW-Authenticate": challenge})
        path = request.url.path
        prefix = "/v2/team/hello/"
        if path.startswith(prefix + "manifests/"):
            found = self.manifests.get(path.rsplit("/", 1)[1])
            if found is None:
                return httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN"}]})
            return httpx.Response(200, content=found[0], headers={"Content-Type": found[1]})
        if path.startswith(prefix + "blobs/"):
            blob = self.blobs.get(path.rsplit("/", 1)[1])
            return httpx.Response(200, content=blob) if blob is not None else httpx.Response(404)
        return httpx.Response(404)


def config_for(fake: FakeRegistry) -> RegistryConfig:
    return RegistryConfig(default_registry="reg.test", transport=httpx.MockTransport(fake.handle))


def test_pull_gets_a_token_selects_amd64_and_stores_the_image(tmp_path: Path) -> None:
    fake = FakeRegistry()
    store = ImageStore(tmp_path / "images", "reg.test")
    image = pull(store, "team/hello:v1", config_for(fake))
    assert image.id == fake.config_digest
    assert image.repo_tags == ["reg.test/team/hello:v1"]
    assert (store.layer_dir(image.layers[0]) / "hello.txt").read_text() == "hi\n"
    token_query = fake.token_requests[0].url.params
    assert token_query["service"] == "reg.test" and token_query["scope"] == "repository:team/hello:pull"
    assert store.find_image("team/hello:v1") is not None


def test_a_blob_that_does_not_match_its_digest_is_rejected_and_nothing_is_kept(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images", "reg.test")
    with pytest.raises(CRIError, match="digest mismatch"):
        pull(store, "team/hello:v1", config_for(FakeRegistry(tamper=True)))
    assert store.list_images() == []
    assert list((store.root / "blobs" / "sha256").iterdir()) == []
    assert list((store.root / "layers").iterdir()) == []


def test_unknown_tag_is_a_clear_error(tmp_path: Path) -> None:
    store = ImageStore(tmp_path / "images", "reg.test")
    with pytest.raises(CRIError, match="manifest unknown"):
        pull(store, "team/hello:v2", config_for(FakeRegistry()))
