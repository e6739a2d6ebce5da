"""HTTP surface: Kubernetes REST paths on FastAPI, mapped onto the registries."""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import yaml
from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import PlainTextResponse, Response, StreamingResponse

from minik.api import errors
from minik.api.labels import SelectorError, from_label_selector
from minik.api.names import validate_dns1123_subdomain
from minik.api.resources import Resource
from minik.apiserver import discovery, openapi
from minik.apiserver.auth import (
    ANONYMOUS,
    MASTERS_GROUP,
    UserInfo,
    anonymous_allowed,
    bootstrap_restriction,
    is_bootstrapper,
    node_name_of,
    node_restriction,
)
from minik.apiserver.patch import apply_json_patch, apply_merge_patch, apply_strategic_merge_patch
from minik.apiserver.registry import CachedList, DeleteOptions, Registry, now_rfc3339
from minik.apiserver.server import APIServer, Config
from minik.apiserver.storage import Obj
from minik.cluster.tokens import CredentialExistsError, issue_node_token

log = logging.getLogger(__name__)

VERBS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
PATCH_TYPES = {
    "application/merge-patch+json": "merge",
    "application/strategic-merge-patch+json": "strategic",
    "application/json-patch+json": "json",
    "application/apply-patch+yaml": "apply",
}
PUBLIC_PATHS = ("/healthz", "/livez", "/readyz", "/version")


def json_response(obj: Any, code: int = 200) -> Response:
    return Response(content=json.dumps(obj, separators=(",", ":")).encode(), status_code=code,
                    media_type="application/json")


def status_response(err: errors.StatusError) -> Response:
    return json_response(err.status(), err.code)


def success_status(details: dict[str, Any] | None = None, code: int = 200) -> dict[str, Any]:
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success",
                            "code": code}
    if details:
        body["details"] = details
    return body


def _truthy(v: str | None) -> bool:
    return v is not None and v.lower() in ("1", "true", "yes")


def create_app(cfg: Config) -> FastAPI:
    server = APIServer(cfg)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await server.start()
        yield
        await server.stop()

    app = FastAPI(lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.server = server

    @app.exception_handler(errors.StatusError)
    async def _status_error(_: Request, exc: errors.StatusError) -> Response:
        return status_response(exc)

    @app.exception_handler(Exception)
    async def _internal(_: Request, exc: Exception) -> Response:
        log.exception("internal error")
        return status_response(errors.InternalError(f"Internal error occurred: {exc}"))

    def authenticate(request: Request) -> UserInfo | None:
        if request.url.path in PUBLIC_PATHS:
            return None
        header = request.headers.get("authorization")
        if not header and server.auth.enabled and anonymous_allowed(request.method, request.url.path):
            return ANONYMOUS
        user = server.auth.authenticate(header)
        if user is None:
            raise errors.UnauthorizedError("Unauthorized")
        return user

    # --- health and discovery ------------------------------------------------------------

    @app.get("/healthz")
    @app.get("/livez")
    async def healthz() -> Response:
        return PlainTextResponse("ok")

    @app.get("/readyz")
    async def readyz() -> Response:
        if server.ready and await server.storage.ping():
            return PlainTextResponse("ok")
        return PlainTextResponse("[-]etcd failed: not ready\nreadyz check failed", status_code=500)

    @app.get("/version")
    async def version() -> Response:
        return json_response(discovery.version_info())

    @app.get("/openapi/v3")
    async def openapi_v3_root(request: Request) -> Response:
        authenticate(request)
        return json_response(openapi.root())

    @app.get("/openapi/v3/{prefix}/{rest:path}")
    async def openapi_v3(request: Request, prefix: str, rest: str) -> Response:
        authenticate(request)
        doc = openapi.group_version_doc(rest if prefix == "api" else rest) if prefix in ("api", "apis") else None
        if doc is None:
            raise errors.NotFoundError("the server could not find the requested resource")
        return json_response(doc)

    @app.get("/api")
    async def api(request: Request) -> Response:
        authenticate(request)
        return json_response(discovery.api_versions(f"{cfg.advertise_address}:{cfg.secure_port}"))

    @app.get("/apis")
    async def apis(request: Request) -> Response:
        authenticate(request)
        return json_response(discovery.api_group_list())

    @app.get("/api/v1")
    async def core_resources(request: Request) -> Response:
        authenticate(request)
        return json_response(discovery.resource_list("v1"))

    @app.get("/apis/{group}")
    async def group(request: Request, group: str) -> Response:
        authenticate(request)
        doc = discovery.api_group(group)
        if doc is None:
            raise errors.NotFoundError("the server could not find the requested resource")
        return json_response(doc)

    @app.get("/apis/{group}/{version}")
    async def group_resources(request: Request, group: str, version: str) -> Response:
        authenticate(request)
        doc = discovery.resource_list(f"{group}/{version}")
        if doc is None:
            raise errors.NotFoundError("the server could not find the requested resource")
        return json_response(doc)

    # --- resources -----------------------------------------------------------------------

    @app.api_route("/api/{version}/{rest:path}", methods=VERBS)
    async def core(request: Request, version: str, rest: str) -> Response:
        return await dispatch(request, version, rest, authenticate(request))

    @app.api_route("/apis/{group}/{version}/{rest:path}", methods=VERBS)
    async def grouped(request: Request, group: str, version: str, rest: str) -> Response:
        return await dispatch(request, f"{group}/{version}", rest, authenticate(request))

    @app.websocket("/api/v1/namespaces/{namespace}/pods/{name}/{sub}")
    async def pod_stream(websocket: WebSocket, namespace: str, name: str, sub: str) -> None:
        """exec as kubectl (>= 1.30) and minictl stream it: a WebSocket relayed to the pod's kubelet."""
        from minik.apiserver import nodeproxy

        await nodeproxy.serve_stream(server, websocket, namespace, name, sub)

    async def authorize_node(request: Request, user: UserInfo, reg: Registry, namespace: str | None,
                             name: str | None, sub: str | None) -> None:
        """NodeRestriction: a kubelet's credential writes only its Node, Lease, its pods' status and events."""
        body = await read_body(request, allow_empty=True) if request.method == "POST" else None
        stored = reg.cache.get(namespace if reg.resource.namespaced else None, name) if name else None
        why = node_restriction(user, request.method, reg.resource.plural, namespace, name, sub, body, stored)
        if why:
            raise errors.ForbiddenError(why, details={"name": name or "", "kind": reg.resource.plural})

    async def dispatch(request: Request, api_version: str, rest: str, user: UserInfo | None = None) -> Response:
        segs = [s for s in rest.split("/") if s]
        namespace: str | None = None
        if len(segs) >= 3 and segs[0] == "namespaces":
            reg = server.registry(api_version, segs[2])
            if reg is not None and reg.resource.namespaced:
                namespace, segs = segs[1], segs[2:]
        if not segs:
            raise errors.NotFoundError("the server could not find the requested resource")
        reg = server.registry(api_version, segs[0])
        if reg is None:
            raise errors.NotFoundError("the server could not find the requested resource")
        name = segs[1] if len(segs) > 1 else None
        sub = segs[2] if len(segs) > 2 else None
        if len(segs) > 3 or (sub is not None and sub not in reg.resource.subresources):
            raise errors.NotFoundError("the server could not find the requested resource")
        if namespace is None and reg.resource.namespaced and name is not None:
            raise errors.NotFoundError("the server could not find the requested resource")
        method = request.method
        if user is not None:
            why = bootstrap_restriction(user, method, reg.resource.plural, namespace, name, sub)
            if why:
                raise errors.ForbiddenError(why, details={"name": name or "", "kind": reg.resource.plural})
        if user is not None and method != "GET" and node_name_of(user):
            await authorize_node(request, user, reg, namespace, name, sub)
        if sub == "token" and reg.resource.plural == "nodes" and method == "POST":
            assert name is not None
            return await node_token(request, name, user)
        params = dict(request.query_params)
        if name is None:
            return await collection(request, reg, namespace, method, params)
        if sub is None:
            return await item(request, reg, namespace, name, method, params)
        return await subresource(request, reg, namespace, name, sub, method, params)

    async def read_body(request: Request, allow_empty: bool = False) -> Any:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > cfg.max_request_bytes:
            raise errors.RequestEntityTooLargeError("Request entity too large: limit is "
                                                    f"{cfg.max_request_bytes}")
        raw = await request.body()
        if len(raw) > cfg.max_request_bytes:
            raise errors.RequestEntityTooLargeError(f"Request entity too large: limit is {cfg.max_request_bytes}")
        if not raw.strip():
            if allow_empty:
                return None
            raise errors.BadRequestError("the body of the request was empty")
        ctype = request.headers.get("content-type", "application/json").split(";")[0].strip()
        if "protobuf" in ctype or "cbor" in ctype:
            raise errors.UnsupportedMediaTypeError(
                f'the body of the request was in an unknown format - accepted media types include: '
                f'application/json, application/yaml, application/merge-patch+json (got "{ctype}")')
        try:
            if "yaml" in ctype:
                return yaml.safe_load(raw)
            return json.loads(raw)
        except (ValueError, yaml.YAMLError) as exc:
            raise errors.BadRequestError(f"couldn't get version/kind; json parse error: {exc}") from None

    async def node_token(request: Request, name: str, user: UserInfo | None) -> Response:
        """POST nodes/<name>/token: a credential for `system:node:<name>`, appended to the token file.

        Shaped like serviceaccounts/<name>/token (a TokenRequest in, the same with status.token out), but
        the Node need not exist yet: its kubelet registers it with this very credential. A bootstrap token
        gets one credential per node name; an admin asking again rotates it (a rejoin).
        """
        body = await read_body(request, allow_empty=True)  # an optional TokenRequest; only its name is checked
        if body is not None and not isinstance(body, dict):
            raise errors.BadRequestError("the body of a token request must be a TokenRequest object")
        meta = (body or {}).get("metadata")
        named = meta.get("name") if isinstance(meta, dict) else None
        if named and named != name:
            raise errors.BadRequestError(
                f"the name of the object ({named}) does not match the name on the URL ({name})")
        if not cfg.token_auth_file:
            raise errors.NotFoundError("node credentials need the apiserver's --token-auth-file")
        problems = validate_dns1123_subdomain(name)
        if problems:
            raise errors.invalid_object("TokenRequest", name, [errors.invalid("metadata.name", name, msg)
                                                               for msg in problems], "authentication.k8s.io")
        admin = user is not None and MASTERS_GROUP in user.groups
        if user is None or not (admin or is_bootstrapper(user)):
            who = user.name if user is not None else "system:anonymous"
            raise errors.ForbiddenError(f'nodes "{name}" is forbidden: User "{who}" cannot create resource '
                                        '"nodes/token": only bootstrap tokens and admins may',
                                        details={"name": name, "kind": "nodes"})
        try:
            token = await asyncio.to_thread(issue_node_token, Path(cfg.token_auth_file), name, admin)
        except CredentialExistsError:
            raise errors.AlreadyExistsError(
                f'node "{name}" already has a credential (user "system:node:{name}"); rejoin from that '
                "machine (it keeps its credential), choose another node name, or ask an admin to re-issue it",
                details={"name": name, "kind": "nodes"}) from None
        server.auth.reload_if_changed()
        log.info("issued a credential for system:node:%s to %s", name, user.name)
        return json_response({"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
                              "metadata": {"name": name, "creationTimestamp": now_rfc3339()},
                              "spec": {"audiences": []},
                              "status": {"token": token, "user": f"system:node:{name}"}}, 201)

    def wants_table(request: Request) -> bool:
        return "as=Table" in request.headers.get("accept", "")

    def to_table(reg: Registry, items: list[Obj], params: dict[str, str], list_meta: Obj | None = None) -> Obj:
        from minik.apiserver.printers import to_table as render

        table = render(reg.resource, items, include_object=params.get("includeObject", "Metadata"))
        if list_meta:
            table["metadata"] = {**table.get("metadata", {}), **list_meta}
        return table

    async def collection(request: Request, reg: Registry, namespace: str | None, method: str,
                         params: dict[str, str]) -> Response:
        if method == "GET":
            if _truthy(params.get("watch")):
                return await watch(request, reg, namespace, params)
            limit = params.get("limit", "0")
            out = await reg.list_view(namespace, label_selector=params.get("labelSelector"),
                                      field_selector=params.get("fieldSelector"),
                                      limit=int(limit) if limit.isdigit() else 0,
                                      continue_=params.get("continue") or None,
                                      resource_version=params.get("resourceVersion"),
                                      resource_version_match=params.get("resourceVersionMatch"))
            if isinstance(out, CachedList):
                if wants_table(request):  # the cache's decoded objects, read-only
                    return json_response(to_table(reg, out.objects(), params,
                                                  {"resourceVersion": out.resource_version}))
                # each item's JSON was encoded once, when it entered the cache
                return Response(content=out.to_json(), media_type="application/json")
            if wants_table(request):
                return json_response(to_table(reg, out["items"], params, out["metadata"]))
            return json_response(out)
        if method == "POST":
            body = await read_body(request)
            created = await reg.create(namespace, body, dry_run=params.get("dryRun") == "All")
            return json_response(created, 201)
        if method == "DELETE":
            body = await read_body(request, allow_empty=True)
            out = await reg.delete_collection(namespace, DeleteOptions.parse(body, params),
                                              label_selector=params.get("labelSelector"),
                                              field_selector=params.get("fieldSelector"))
            return json_response(out)
        raise errors.MethodNotAllowedError("the server does not allow this method on the requested resource")

    async def item(request: Request, reg: Registry, namespace: str | None, name: str, method: str,
                   params: dict[str, str]) -> Response:
        dry_run = params.get("dryRun") == "All"
        if method == "GET":
            obj = await reg.get(namespace, name)
            if wants_table(request):
                return json_response(to_table(reg, [obj], params, {"resourceVersion":
                                                                   obj["metadata"].get("resourceVersion")}))
            return json_response(obj)
        if method == "PUT":
            return json_response(await reg.update(namespace, name, await read_body(request), dry_run=dry_run))
        if method == "PATCH":
            return json_response(await reg.update(namespace, name, patch=await read_patch(request),
                                                  dry_run=dry_run))
        if method == "DELETE":
            body = await read_body(request, allow_empty=True)
            obj = await reg.delete(namespace, name, DeleteOptions.parse(body, params), dry_run=dry_run)
            return json_response(obj)
        raise errors.MethodNotAllowedError("the server does not allow this method on the requested resource")

    async def read_patch(request: Request) -> tuple[str, Any]:
        ctype = request.headers.get("content-type", "").split(";")[0].strip()
        kind = PATCH_TYPES.get(ctype)
        if kind is None or kind == "apply":
            raise errors.UnsupportedMediaTypeError(
                f"the body of the request was in an unknown format - accepted media types include: "
                f"{', '.join(k for k, v in PATCH_TYPES.items() if v != 'apply')}")
        return kind, await read_body(request)

    async def subresource(request: Request, reg: Registry, namespace: str | None, name: str, sub: str,
                          method: str, params: dict[str, str]) -> Response:
        if sub == "status":
            if method == "GET":
                return json_response(await reg.get(namespace, name))
            if method == "PUT":
                return json_response(await reg.update(namespace, name, await read_body(request),
                                                      subresource="status"))
            if method == "PATCH":
                return json_response(await reg.update(namespace, name, patch=await read_patch(request),
                                                      subresource="status"))
        elif sub == "finalize" and method == "PUT":
            return json_response(await reg.update(namespace, name, await read_body(request), subresource="finalize"))
        elif sub == "scale":
            return await scale(request, reg, namespace, name, method)
        elif sub == "binding" and method == "POST":
            await bind(reg, namespace, name, await read_body(request))
            return json_response(success_status(code=201), 201)
        elif sub in ("log", "exec"):
            from minik.apiserver import nodeproxy  # proxied to the pod's kubelet

            if sub == "log" and method == "GET":
                return await nodeproxy.proxy_log(server, namespace, name, params)
            if sub == "exec":
                return await nodeproxy.proxy_exec(server, namespace, name, request.query_params.multi_items())
        raise errors.MethodNotAllowedError("the server does not allow this method on the requested resource")

    def scale_of(r: Resource, obj: Obj) -> Obj:
        meta = obj["metadata"]
        selector = ""
        with suppress(SelectorError):
            selector = str(from_label_selector((obj.get("spec") or {}).get("selector")))
        return {"kind": "Scale", "apiVersion": "autoscaling/v1",
                "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                                  "creationTimestamp") if k in meta},
                "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
                "status": {"replicas": (obj.get("status") or {}).get("replicas", 0), "selector": selector}}

    async def scale(request: Request, reg: Registry, namespace: str | None, name: str, method: str) -> Response:
        if method == "GET":
            return json_response(scale_of(reg.resource, await reg.get(namespace, name)))
        if method not in ("PUT", "PATCH"):
            raise errors.MethodNotAllowedError("the server does not allow this method on the requested resource")
        if method == "PUT":
            body = await read_body(request)
            patch: tuple[str, Any] | None = None
        else:
            patch = await read_patch(request)
            body = None

        def apply(obj: Obj) -> Obj | None:
            current = scale_of(reg.resource, obj)
            if body is not None:
                desired = body
                want_rv = ((body.get("metadata") or {}) if isinstance(body, dict) else {}).get("resourceVersion")
                if want_rv and want_rv != obj["metadata"].get("resourceVersion"):
                    raise errors.conflict(reg.resource.plural, name, reg.resource.group)
            else:
                assert patch is not None
                kind, doc = patch
                desired = (apply_json_patch(current, doc) if kind == "json" else
                           apply_strategic_merge_patch(current, doc, "Scale") if kind == "strategic"
                           else apply_merge_patch(current, doc))
            replicas = (desired.get("spec") or {}).get("replicas") if isinstance(desired, dict) else None
            if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
                raise errors.invalid_object("Scale", name, [errors.invalid("spec.replicas", replicas,
                                                                           "must be greater than or equal to 0")],
                                            "autoscaling")
            obj.setdefault("spec", {})["replicas"] = replicas
            return obj

        updated = await reg.update(namespace, name, mutate=apply)
        return json_response(scale_of(reg.resource, updated))

    async def bind(reg: Registry, namespace: str | None, name: str, body: Any) -> None:
        target = (body or {}).get("target") or {} if isinstance(body, dict) else {}
        node = target.get("name")
        if not node:
            raise errors.invalid_object("Binding", name, [errors.required("target.name")])

        def assign(pod: Obj) -> Obj:
            meta, spec = pod["metadata"], pod.setdefault("spec", {})
            if meta.get("deletionTimestamp"):
                raise errors.ConflictError(f'Operation cannot be fulfilled on pods/binding "{name}": pod {name} '
                                           "is being deleted, cannot be assigned to a host")
            if spec.get("nodeName"):
                raise errors.ConflictError(f'Operation cannot be fulfilled on pods/binding "{name}": pod {name} '
                                           f"is already assigned to node \"{spec['nodeName']}\"")
            spec["nodeName"] = node
            status = pod.setdefault("status", {})
            conds = [c for c in status.get("conditions") or [] if c.get("type") != "PodScheduled"]
            conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                          "lastTransitionTime": now_rfc3339()})
            status["conditions"] = conds
            return pod

        # binding writes spec.nodeName and the PodScheduled condition: both halves, one write
        await reg.update(namespace, name, mutate=assign, subresource="binding")

    async def watch(request: Request, reg: Registry, namespace: str | None, params: dict[str, str]) -> Response:
        table = wants_table(request)
        timeout_text = params.get("timeoutSeconds", "")
        timeout = float(timeout_text) if timeout_text.isdigit() else random.uniform(1800, 3600)
        try:
            w = await reg.watch(namespace, label_selector=params.get("labelSelector"),
                                field_selector=params.get("fieldSelector"),
                                resource_version=params.get("resourceVersion"),
                                bookmarks=_truthy(params.get("allowWatchBookmarks")),
                                send_initial_events=_truthy(params.get("sendInitialEvents")))
        except errors.GoneError as exc:
            # like kube-apiserver: 200 and an ERROR event, so clients relist
            line = json.dumps({"type": "ERROR", "object": exc.status()}).encode() + b"\n"
            return Response(content=line, media_type="application/json")

        async def stream() -> AsyncIterator[bytes]:
            deadline = time.monotonic() + timeout
            try:
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        ev = await asyncio.wait_for(w.queue.get(), remaining)
                    except TimeoutError:
                        break
                    if ev is None:
                        break
                    if table and ev.type != "BOOKMARK":
                        obj = to_table(reg, [ev.object], params)
                        yield json.dumps({"type": ev.type, "object": obj}, separators=(",", ":")).encode() + b"\n"
                    else:
                        yield ev.line()
            finally:
                reg.cache.unregister(w)

        return StreamingResponse(stream(), media_type="application/json")

    return app
