"""A list from the watch cache is assembled from each object's JSON bytes: same document as encoding the dict."""

from __future__ import annotations

import json

from minik.apiserver.registry import CachedList, list_json
from minik.apiserver.storage import CachedObject, dumps
from minik.apiserver.watchcache import WatchEvent


def _pod(name: str, rv: int) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "resourceVersion": str(rv),
                         "labels": {"app": "x", "quote": 'a"b\\c', "unicode": "ünï"}},
            "spec": {"containers": [{"name": "c", "image": "busybox", "args": ["]", "}", ","]}]}}


def test_list_json_is_the_encoded_list() -> None:
    items = [_pod("a", 5), _pod("b", 7)]
    body = list_json("PodList", "v1", {"resourceVersion": "9"}, [dumps(i) for i in items])
    assert json.loads(body) == {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "9"},
                                "items": items}
    assert body == dumps({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "9"},
                          "items": items})


def test_empty_list() -> None:
    assert json.loads(list_json("PodList", "v1", {"resourceVersion": "1"}, []))["items"] == []


def test_cached_list_bytes_and_dict_agree_and_encode_once() -> None:
    entries = [CachedObject(_pod("a", 3)), CachedObject(_pod("b", 4))]
    listed = CachedList("PodList", "v1", "4", entries)
    assert json.loads(listed.to_json()) == listed.to_dict()
    assert listed.objects()[0] is entries[0].obj  # shared, not copied
    assert entries[0].json() is entries[0].json()  # encoded once, then reused


def test_watch_line_reuses_the_object_encoding() -> None:
    entry = CachedObject(_pod("a", 3))
    shared = WatchEvent("ADDED", entry.obj, source=entry).line()
    assert shared == WatchEvent("ADDED", entry.obj).line()
    assert json.loads(shared) == {"type": "ADDED", "object": entry.obj}
