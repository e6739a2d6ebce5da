"""Pure rules of the runtime: command/args merge, env, capabilities, users, path resolution, refs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from minik.runtime.images.reference import parse_reference
from minik.runtime.spec import (
    DEFAULT_CAPABILITIES,
    capability_set,
    clean_container_path,
    merge_command,
    merge_env,
    resolve_user,
    secure_join,
)
from minik.runtime.state import CRIError

ENTRYPOINT, CMD = ["/docker-entrypoint.sh"], ["nginx", "-g", "daemon off;"]


@pytest.mark.parametrize(
    ("command", "args", "expected"),
    [
        ([], [], [*ENTRYPOINT, *CMD]),  # neither: the image decides
        (["sh"], [], ["sh"]),  # command replaces Entrypoint and drops Cmd
        ([], ["-v"], [*ENTRYPOINT, "-v"]),  # args replace Cmd only
        (["sh"], ["-c", "true"], ["sh", "-c", "true"]),  # both: the pod decides
    ],
)
def test_command_and_args_follow_kubernetes(command: list[str], args: list[str], expected: list[str]) -> None:
    assert merge_command(command, args, ENTRYPOINT, CMD) == expected


def test_env_container_overrides_image_in_place_and_path_defaults() -> None:
    assert merge_env(["A=1", "B=2"], [{"key": "B", "value": "x"}, {"key": "C", "value": "3"}])[:3] == [
        "A=1", "B=x", "C=3"]
    assert any(e.startswith("PATH=") for e in merge_env([], []))
    assert merge_env(["PATH=/bin", "EMPTY"], []) == ["PATH=/bin", "EMPTY="]


def test_capabilities_default_add_drop_all_and_privileged() -> None:
    assert set(capability_set([], [], False)) == set(DEFAULT_CAPABILITIES)
    caps = capability_set(["NET_ADMIN"], ["CAP_KILL"], False)
    assert "NET_ADMIN" in caps and "KILL" not in caps
    assert capability_set(["NET_BIND_SERVICE"], ["ALL"], False) == ["NET_BIND_SERVICE"]
    assert "SYS_ADMIN" in capability_set([], [], True)
    with pytest.raises(CRIError, match="unknown capability"):
        capability_set(["FLY"], [], False)


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\nwww:x:33:33::/var/www:/bin/false\n")
    (tmp_path / "etc/group").write_text("root:x:0:\nwww:x:33:\nstaff:x:50:www\n")
    return tmp_path


def test_users_from_image_and_security_context(rootfs: Path) -> None:
    assert vars(resolve_user("", None, None, None, [], rootfs)) == {"uid": 0, "gid": 0, "additional_gids": []}
    www = resolve_user("www", None, None, None, [], rootfs)
    assert (www.uid, www.gid, www.additional_gids) == (33, 33, [50])
    assert vars(resolve_user("1000:2000", None, None, None, [], rootfs))["gid"] == 2000
    assert resolve_user("www", 1000, None, None, [7], rootfs).uid == 1000  # runAsUser wins
    assert resolve_user("", 33, 99, None, [], rootfs).gid == 99
    assert resolve_user("", 33, None, None, [], rootfs).gid == 33  # primary group from passwd
    with pytest.raises(CRIError, match="unable to find user nobody"):
        resolve_user("nobody", None, None, None, [], rootfs)


def test_secure_join_keeps_symlinks_inside_the_root(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    os.symlink("/etc", tmp_path / "abs")
    os.symlink("../../../../real", tmp_path / "climb")
    assert secure_join(tmp_path, "/abs/passwd") == tmp_path / "etc/passwd"
    assert secure_join(tmp_path, "climb/x") == tmp_path / "real/x"
    assert secure_join(tmp_path, "../../etc") == tmp_path / "etc"


def test_mount_paths_must_be_absolute() -> None:
    assert clean_container_path("/data/../x/") == "/x"
    with pytest.raises(CRIError):
        clean_container_path("data")


@pytest.mark.parametrize(
    ("text", "default", "expected"),
    [
        ("busybox", "docker.io", "docker.io/library/busybox:latest"),
        ("minik/app:v1", "docker.io", "docker.io/minik/app:v1"),
        ("busybox", "127.0.0.1:5000", "127.0.0.1:5000/busybox:latest"),
        ("localhost/app", "docker.io", "localhost/app:latest"),
        ("reg.example:5000/a/b:c", "docker.io", "reg.example:5000/a/b:c"),
        ("busybox@sha256:" + "a" * 64, "docker.io", "docker.io/library/busybox@sha256:" + "a" * 64),
    ],
)
def test_references_are_normalized(text: str, default: str, expected: str) -> None:
    assert str(parse_reference(text, default)) == expected


@pytest.mark.parametrize("text", ["", "UPPER/case", "a:b:c:d", "x@sha256:short", "app:-bad"])
def test_bad_references_are_clear_errors(text: str) -> None:
    with pytest.raises(CRIError, match="image reference"):
        parse_reference(text)
