"""The etcd helper runs a real etcd that serves the v3 API and leaves nothing behind when stopped."""

from __future__ import annotations

import asyncio
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import aetcd
import pytest
from util import free_port

from minik.cluster.etcd import ETCD_NAME, EtcdError, start_etcd
from minik.cluster.process import find_strays, read_cmdline

pytestmark = pytest.mark.etcd


@pytest.fixture
def state_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="minik-test-etcd-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


async def _put_get(port: int, key: bytes, value: bytes) -> bytes | None:
    async with aetcd.Client(host="127.0.0.1", port=port) as client:
        await client.put(key, value)
        got = await client.get(key)
        return got.value if got is not None else None


def test_etcd_serves_put_get_and_stops_without_leftovers(state_dir: Path) -> None:
    port = free_port()
    server = start_etcd(state_dir, client_port=port, peer_port=free_port())
    try:
        argv = read_cmdline(server.pid)
        assert argv is not None and "--name" in argv and ETCD_NAME in argv
        assert server.endpoint == f"http://127.0.0.1:{port}"
        assert asyncio.run(_put_get(port, b"/minik-test/key", b"hello")) == b"hello"
        assert (state_dir / "etcd" / "member").is_dir()
        assert (state_dir / "logs" / "etcd.log").is_file()
    finally:
        server.stop()
    assert read_cmdline(server.pid) != argv
    assert not server.running()
    assert find_strays(state_dir, ["etcd"]) == []
    assert not (state_dir / "run" / "etcd.pid").exists()
    server.stop()  # idempotent


def test_etcd_on_a_taken_port_fails_with_its_log_and_leaves_no_process(state_dir: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(EtcdError, match="address already in use"):
            start_etcd(state_dir, client_port=port, peer_port=free_port(), timeout=30.0)
    assert find_strays(state_dir, ["etcd"]) == []
