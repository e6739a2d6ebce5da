"""Serve a Runtime's CRI methods over gRPC on a unix socket (see wire.py for the format)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc

from minik.runtime.service import Runtime
from minik.runtime.state import CRIError, NotFoundError
from minik.runtime.wire import METHODS, decode, encode, socket_path, socket_target

log = logging.getLogger("minik.runtime")


def _handler(runtime: Runtime, method: str, python_name: str) -> Callable[[Any, grpc.ServicerContext], Any]:
    function = getattr(runtime, python_name)

    def handle(request: Any, context: grpc.ServicerContext) -> Any:
        args = request.get("args", {}) if isinstance(request, dict) else None
        if not isinstance(args, dict):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{method}: request must be {{'args': {{...}}}}")
            return None
        try:
            return {"result": function(**args)}
        except NotFoundError as error:
            context.abort(grpc.StatusCode.NOT_FOUND, str(error))
        except CRIError as error:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(error))
        except TypeError as error:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"{method}: {error}")
        except Exception as error:  # noqa: BLE001 - a bug in one request must not kill the daemon
            log.exception("%s failed", method)
            context.abort(grpc.StatusCode.INTERNAL, f"{method}: {type(error).__name__}: {error}")

    return handle


def serve(runtime: Runtime, listen: str, workers: int = 16) -> grpc.Server:
    """Start serving (non-blocking); the socket is created 0600 with a stale one removed first."""
    path = Path(socket_path(listen))
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_socket():
        path.unlink()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="minik-cri"))
    services: dict[str, dict[str, grpc.RpcMethodHandler]] = {}
    for method, (service, python_name) in METHODS.items():
        services.setdefault(service, {})[method] = grpc.unary_unary_rpc_method_handler(
            _handler(runtime, method, python_name), request_deserializer=decode, response_serializer=encode
        )
    server.add_generic_rpc_handlers(
        tuple(grpc.method_handlers_generic_handler(service, handlers) for service, handlers in services.items())
    )
    old_umask = os.umask(0o177)
    try:
        server.add_insecure_port(socket_target(listen))
        server.start()
    finally:
        os.umask(old_umask)
    return server
