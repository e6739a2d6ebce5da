"""Images on a real filesystem: whiteouts through overlayfs, tar-slip rejection, archive import
(including a tarball written by skopeo), layer sharing, reference counts and GC."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from runtime_pods import Pods

from minik.runtime.images.archive import export_oci_layout, import_archive, save_oci_archive
from minik.runtime.images.builder import DEFAULT_PATH, LayerBuilder, build_image, busybox_layer
from minik.runtime.images.extract import UnsafeLayerError
from minik.runtime.images.store import ImageStore
from minik.runtime.state import CRIError

pytestmark = pytest.mark.root


@pytest.fixture
def store(tmp_path: Path) -> Iterator[ImageStore]:
    yield ImageStore(tmp_path / "minik-test-images")


def test_whiteouts_and_opaque_dirs_hide_lower_layers_in_the_container(pods: Pods) -> None:
    lower = LayerBuilder()
    for name in ("a", "b", "c"):
        lower.dir(name)
    for name in ("a/gone", "a/kept", "b/file", "c/old1", "c/old2"):
        lower.file(name, b"lower\n")
    upper = LayerBuilder()
    upper.dir("a")
    upper.file("a/.wh.gone", b"")  # delete one file
    upper.file(".wh.b", b"")  # delete a whole directory
    upper.dir("c")
    upper.file("c/.wh..wh..opq", b"")  # replace a directory's contents
    upper.file("c/new", b"upper\n")
    name = f"minik/whiteouts:{os.getpid()}"
    build_image(pods.runtime.images, [busybox_layer(), lower, upper], {"Env": [DEFAULT_PATH]}, [name])
    try:
        container = pods.run(pods.sandbox(), ["sh", "-c", "ls /a; ls /c; ls -d /b 2>&1; exit 0"], image=name)
        pods.wait_exited(container)
        lines = pods.log(container)
        assert lines[:3] == ["kept", "new", "ls: /b: No such file or directory"]
    finally:
        pods.runtime.remove_image({"image": name})  # its layers stay leased until the container goes


def _docker_archive(path: Path, layer: bytes, tag: str = "minik/evil:v1") -> Path:
    """A minimal `docker save` tarball around one layer tar."""
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    manifest = json.dumps([{"Config": "config.json", "RepoTags": [tag], "Layers": ["layer.tar"]}]).encode()
    with tarfile.open(path, "w") as tf:
        for name, data in (("config.json", config), ("layer.tar", layer), ("manifest.json", manifest)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def _layer(*entries: tuple[str, bytes, str]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tf:
        for name, kind, target in entries:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE):
                info.linkname = target
                tf.addfile(info)
            elif kind == tarfile.CHRTYPE:
                info.devmajor, info.devminor = 1, 3
                tf.addfile(info)
            else:
                data = target.encode()
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def _slips(outside: Path) -> dict[str, bytes]:
    rel = os.path.relpath(outside, "/")
    return {
        "dotdot": _layer(("ok", tarfile.REGTYPE, "x"), (f"../../../../../../../../{rel}", tarfile.REGTYPE, "pwned")),
        "absolute": _layer((str(outside), tarfile.REGTYPE, "pwned")),
        "through-symlink": _layer(("link", tarfile.SYMTYPE, str(outside.parent)),
                                  (f"link/{outside.name}", tarfile.REGTYPE, "pwned")),
        "relative-symlink-out": _layer(("link", tarfile.SYMTYPE, "../../../../../../../../" + rel)),
        "hardlink-out": _layer((outside.name, tarfile.LNKTYPE, f"../../../../../../../../{rel}")),
        "device": _layer(("dev/mem", tarfile.CHRTYPE, "")),
    }


@pytest.mark.parametrize("kind", ["dotdot", "absolute", "through-symlink", "relative-symlink-out", "hardlink-out",
                                  "device"])
def test_unsafe_layers_are_rejected_and_leave_nothing_behind(store: ImageStore, tmp_path: Path, kind: str) -> None:
    outside = tmp_path / "outside" / "victim"
    outside.parent.mkdir()
    if kind == "hardlink-out":
        outside.write_text("host file\n")
    before = sorted(p.relative_to(store.root) for p in store.root.rglob("*"))
    archive = _docker_archive(tmp_path / "evil.tar", _slips(outside)[kind])
    with pytest.raises(UnsafeLayerError):
        import_archive(store, archive)
    assert not outside.exists() or outside.read_text() == "host file\n"
    assert store.list_images() == []
    assert sorted(p.relative_to(store.root) for p in store.root.rglob("*")) == before  # no blob, layer or tmp


def test_absolute_symlinks_stay_inside_the_image(store: ImageStore, tmp_path: Path) -> None:
    layer = _layer(("etc", tarfile.DIRTYPE, ""), ("etc/mtab", tarfile.SYMTYPE, "/proc/mounts"),
                   ("bin", tarfile.SYMTYPE, "usr/bin"))
    image = import_archive(store, _docker_archive(tmp_path / "ok.tar", layer, "minik/links:v1"))[0]
    fs = store.layer_dir(image.layers[0])
    assert os.readlink(fs / "etc/mtab") == "/proc/mounts"  # resolved in the container's root, not the host's
    assert image.repo_tags == ["docker.io/minik/links:v1"]


def test_layers_are_shared_refcounted_and_collected(pods: Pods, store: ImageStore) -> None:
    base = busybox_layer()
    app1, app2 = LayerBuilder(), LayerBuilder()
    app1.file("one", b"1\n")
    app2.file("two", b"2\n")
    first = build_image(store, [base, app1], {"Env": [DEFAULT_PATH]}, ["minik/one:v1"])
    second = build_image(store, [base, app2], {"Env": [DEFAULT_PATH]}, ["minik/two:v1"])
    shared = first.layers[0]
    assert second.layers[0] == shared
    assert len(list((store.root / "layers").iterdir())) == 3  # the base layer is unpacked once
    counts = store.layer_refcounts()
    assert counts[shared] == 2 and counts[first.layers[1]] == 1
    store.lease("minik-test-container", second)
    assert store.remove_image("minik/two:v1")
    assert store.has_layer(second.layers[1])  # still used by the (leased) container
    assert store.remove_image("minik/one:v1")
    assert not store.has_layer(first.layers[1]) and store.has_layer(shared)
    assert not store.remove_image("minik/one:v1")  # idempotent
    store.release("minik-test-container")
    assert store.gc() == {"layers": 2, "blobs": 0}  # the blobs went with the images; the layers waited
    assert list((store.root / "layers").iterdir()) == []
    assert list((store.root / "blobs" / "sha256").iterdir()) == []


def test_oci_archive_round_trip(pods: Pods, store: ImageStore, tmp_path: Path) -> None:
    save_oci_archive(pods.runtime.images, ["minik/app:v2"], tmp_path / "app.tar")
    images = import_archive(store, tmp_path / "app.tar")
    assert images[0].id == pods.runtime.images.get_image("minik/app:v2").id
    assert images[0].repo_tags == ["docker.io/minik/app:v2"]


@pytest.fixture
def skopeo() -> Callable[..., None]:
    binary = shutil.which("skopeo")
    if binary is None:
        pytest.fail("skopeo is not installed (apt package skopeo)")

    def run(*args: str) -> None:
        subprocess.run([binary, "--insecure-policy", *args], check=True, capture_output=True, timeout=120)

    return run


def test_import_a_docker_archive_written_by_skopeo_and_run_it(pods: Pods, tmp_path: Path,
                                                              skopeo: Callable[..., None]) -> None:
    extra = LayerBuilder()
    extra.file("greeting", b"hello from skopeo\n")
    source = f"minik/skopeo-source:{os.getpid()}"
    build_image(pods.runtime.images, [busybox_layer(), extra], {"Env": [DEFAULT_PATH]}, [source])
    export_oci_layout(pods.runtime.images, [source], tmp_path / "layout")
    pods.runtime.remove_image({"image": source})
    tarball = tmp_path / "docker.tar"
    name = f"minik/from-skopeo:{os.getpid()}"
    skopeo("copy", f"oci:{tmp_path / 'layout'}:{os.getpid()}", f"docker-archive:{tarball}:{name}")
    with tarfile.open(tarball) as tf:
        assert "manifest.json" in tf.getnames()  # the docker save format, not OCI
    imported = import_archive(pods.runtime.images, tarball)
    try:
        assert imported[0].repo_tags == [f"docker.io/{name}"]
        container = pods.run(pods.sandbox(), ["cat", "/greeting"], image=name)
        assert pods.wait_exited(container)["exit_code"] == 0
        assert pods.log(container) == ["hello from skopeo"]
    finally:
        pods.runtime.remove_image({"image": name})


def test_a_missing_image_is_a_clear_error(pods: Pods) -> None:
    with pytest.raises(CRIError, match="not present"):
        pods.create(pods.sandbox(), ["true"], image="minik/never-built:v9")
