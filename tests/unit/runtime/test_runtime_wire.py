"""The daemon's wire format: JSON with bytes preserved, every CRI method routed to a Runtime method."""

from __future__ import annotations

import inspect

from minik.runtime.client import RuntimeClient
from minik.runtime.service import Runtime
from minik.runtime.wire import METHODS, decode, encode, socket_path, socket_target


def test_bytes_survive_the_round_trip() -> None:
    message = {"result": {"stdout": b"\x00\xffhello\n", "stderr": b"", "exit_code": 3, "nested": [{"k": "v"}]}}
    assert decode(encode(message)) == message


def test_every_cri_method_exists_on_runtime_and_client_with_the_same_parameters() -> None:
    for method, (_, name) in METHODS.items():
        server_side = inspect.signature(getattr(Runtime, name))
        client_side = inspect.signature(getattr(RuntimeClient, name))
        assert list(server_side.parameters) == list(client_side.parameters), method


def test_socket_addresses() -> None:
    assert socket_target("/run/minik/runtime.sock") == "unix:///run/minik/runtime.sock"
    assert socket_path("unix:///run/minik/runtime.sock") == "/run/minik/runtime.sock"
    assert socket_path("unix:relative.sock") == "relative.sock"
