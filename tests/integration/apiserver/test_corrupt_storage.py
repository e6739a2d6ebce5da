"""Garbage written straight into etcd is reported, never fatal: lists and watches keep working."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import aetcd
import httpx

from tests.integration.apiserver.objects import pod
from tests.util import wait_for


async def _put(endpoint: str, key: str, value: bytes) -> None:
    host, port = endpoint.split("://")[-1].split(":")
    async with aetcd.Client(host=host, port=int(port)) as c:
        await c.put(key.encode(), value)


def test_corrupt_values_do_not_break_the_server(apiserver_factory: Any, etcd: Any) -> None:
    prefix = "/minik-test-corrupt"
    srv = apiserver_factory("--etcd-prefix", prefix)
    with httpx.Client(base_url=srv.url, headers={"Authorization": f"Bearer {srv.token}"},
                      verify=ssl.create_default_context(cafile=srv.ca_file), timeout=30) as h:
        url = "/api/v1/namespaces/default/pods"
        assert h.post(url, json=pod("good")).status_code == 201
        asyncio.run(_put(etcd.endpoint, f"{prefix}/registry/pods/default/bad", b"\x00not json"))
        asyncio.run(_put(etcd.endpoint, f"{prefix}/registry/pods/default/list", b"[1,2,3]"))
        r = h.get(url)
        assert r.status_code == 200
        assert [p["metadata"]["name"] for p in r.json()["items"]] == ["good"]
        r = h.get(f"{url}/bad")
        assert r.status_code == 500 and r.json()["kind"] == "Status" and "not JSON" in r.json()["message"]
        # the watch cache skipped the garbage and still serves changes
        assert h.post(url, json=pod("after")).status_code == 201

        def cached() -> list[str]:
            r = h.get(url, params={"resourceVersion": "0"})  # served from the watch cache
            return sorted(p["metadata"]["name"] for p in r.json()["items"])

        wait_for(lambda: cached() == ["after", "good"], timeout=10, message="cache caught up")
        assert h.get("/readyz").text == "ok"
