"""Bearer-token authentication from a Kubernetes static token file (token,user,uid,"groups"), and the
node authorizer's decision for kubelets.

The token file is re-read when it changes (its size, mtime or inode), so a node joining the cluster
only needs its row `token,system:node:<name>,<uid>,"system:nodes"` appended; no apiserver restart.
The groups column is kept on each user, which is what `node_restriction` needs: a user in group
`system:nodes` named `system:node:<node>` may write only its own Node and Lease, pods bound to it
(their status, their final deletion, mirror pods) and Events; it may read anything.
The apiserver also uses this table to speak to kubelets: it presents the node's own token
(`token_for`) when it proxies logs and exec to that node.

Joining a machine (kubeadm's TLS bootstrap, with tokens instead of certificates) opens exactly two
doors: anyone may read ConfigMap kube-public/cluster-info (the CA and server URL; the joiner pins the
CA by hash), and a bootstrap token (`system:bootstrap:<id>`, group `system:bootstrappers`, honoured
until the expiration recorded beside the token file) may read kube-system/minik-config and ask for
its node's credential, and nothing else.
"""

from __future__ import annotations

import csv
import datetime
import logging
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minik.cluster.tokens import (
    BOOTSTRAP_USER_PREFIX,
    BOOTSTRAPPERS_GROUP,
    bootstrap_file,
    entry_expiration,
    read_bootstrap_entries,
)

log = logging.getLogger(__name__)

NODE_USER_PREFIX = "system:node:"
NODES_GROUP = "system:nodes"
MASTERS_GROUP = "system:masters"
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
READ_VERBS = ("GET", "HEAD", "OPTIONS")
# (namespace, name) of the ConfigMaps a joining machine reads, like kubeadm's cluster-info and kubeadm-config
CLUSTER_INFO = ("kube-public", "cluster-info")
CLUSTER_CONFIG = ("kube-system", "minik-config")
CLUSTER_INFO_PATH = f"/api/v1/namespaces/{CLUSTER_INFO[0]}/configmaps/{CLUSTER_INFO[1]}"


@dataclass(frozen=True)
class UserInfo:
    name: str
    uid: str = ""
    groups: tuple[str, ...] = field(default=())


ANONYMOUS = UserInfo("system:anonymous", groups=("system:unauthenticated",))


def parse_token_file(path: str) -> dict[str, UserInfo]:
    tokens: dict[str, UserInfo] = {}
    with Path(path).open(newline="") as fh:
        for row in csv.reader(fh):
            if len(row) < 2 or not row[0].strip() or row[0].startswith("#"):
                continue
            groups = tuple(g.strip() for g in row[3].split(",") if g.strip()) if len(row) > 3 else ()
            tokens[row[0].strip()] = UserInfo(row[1].strip(), row[2].strip() if len(row) > 2 else "", groups)
    return tokens


def _signature(path: str) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


class TokenAuthenticator:
    def __init__(self, tokens: dict[str, UserInfo] | None, path: str | None = None) -> None:
        # None means authentication is off (development servers and unit tests only)
        self.tokens = tokens
        self.path = path
        self._signature = _signature(path) if path else None
        self._lock = threading.Lock()
        self.bootstrap_path = str(bootstrap_file(Path(path))) if path else None
        self._bootstrap_signature: tuple[int, int, int] | None = None
        self._bootstrap: dict[str, dict[str, Any]] = {}

    @classmethod
    def from_file(cls, path: str | None) -> TokenAuthenticator:
        if not path:
            return cls(None)
        return cls(parse_token_file(path), path)

    @property
    def enabled(self) -> bool:
        return self.tokens is not None

    def reload_if_changed(self) -> None:
        """Pick up rows added to (or removed from) the token file; a broken file keeps the old table."""
        if not self.path:
            return
        signature = _signature(self.path)
        if signature is None or signature == self._signature:
            return
        with self._lock:
            if signature == self._signature:
                return
            try:
                self.tokens = parse_token_file(self.path)
            except (OSError, csv.Error, UnicodeDecodeError) as error:
                log.warning("token file %s not reloaded: %s", self.path, error)
            self._signature = signature

    def authenticate(self, authorization: str | None) -> UserInfo | None:
        """The user for an Authorization header, or None when it must be refused."""
        self.reload_if_changed()
        tokens = self.tokens
        if tokens is None:
            return ANONYMOUS
        if not authorization:
            return None
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        user = tokens.get(token.strip())
        if user is not None and user.name.startswith(BOOTSTRAP_USER_PREFIX):
            token_id = user.name[len(BOOTSTRAP_USER_PREFIX):]
            if token.strip().partition(".")[0] != token_id or not self.bootstrap_valid(token_id):
                return None
        return user

    def bootstrap_valid(self, token_id: str, now: datetime.datetime | None = None) -> bool:
        """A bootstrap token counts only while its recorded expiration lies ahead (no record: refused)."""
        if not self.bootstrap_path:
            return False
        signature = _signature(self.bootstrap_path)
        if signature != self._bootstrap_signature:
            with self._lock:
                try:
                    self._bootstrap = read_bootstrap_entries(Path(self.bootstrap_path))
                except (OSError, ValueError) as error:
                    log.warning("bootstrap tokens %s not read: %s", self.bootstrap_path, error)
                    self._bootstrap = {}
                self._bootstrap_signature = signature
        entry = self._bootstrap.get(token_id)
        if entry is None:
            return False
        expiration = entry_expiration(entry)
        return expiration is None or expiration > (now or datetime.datetime.now(datetime.UTC))

    def token_for(self, user: str) -> str | None:
        """The token of a user (a node's, to authenticate to its kubelet), if the file has one."""
        self.reload_if_changed()
        for token, info in (self.tokens or {}).items():
            if info.name == user:
                return token
        return None

    def admin_token(self) -> str | None:
        self.reload_if_changed()
        for token, info in (self.tokens or {}).items():
            if MASTERS_GROUP in info.groups:
                return token
        return None


def anonymous_allowed(method: str, path: str) -> bool:
    """The one request a caller without credentials may make: reading cluster-info (kubeadm's discovery)."""
    return method.upper() == "GET" and path == CLUSTER_INFO_PATH


def is_bootstrapper(user: UserInfo) -> bool:
    return BOOTSTRAPPERS_GROUP in user.groups and MASTERS_GROUP not in user.groups


def bootstrap_restriction(user: UserInfo, method: str, resource: str, namespace: str | None, name: str | None,
                          subresource: str | None) -> str | None:
    """Why a bootstrap token may not make this request (a Forbidden message), or None when it may.

    A bootstrap token is only good for joining: read the two join ConfigMaps, request a node credential.
    """
    if not is_bootstrapper(user):
        return None
    verb = method.upper()
    if verb == "GET" and resource == "configmaps" and subresource is None \
            and (namespace, name) in (CLUSTER_INFO, CLUSTER_CONFIG):
        return None
    if verb == "POST" and resource == "nodes" and name and subresource == "token":
        return None
    what = f'{resource} "{name}"' if name else resource
    where = f' in the namespace "{namespace}"' if namespace else ""
    return (f'{what} is forbidden: User "{user.name}" cannot {verb.lower()} resource "{resource}"{where}: '
            "a bootstrap token may only read the join ConfigMaps and request a node credential")


def node_name_of(user: UserInfo) -> str | None:
    """The node a user speaks for, when it is a node credential."""
    if NODES_GROUP in user.groups and user.name.startswith(NODE_USER_PREFIX):
        return user.name[len(NODE_USER_PREFIX):] or None
    return None


def node_restriction(user: UserInfo, method: str, resource: str, namespace: str | None, name: str | None,
                     subresource: str | None, body: Any = None, stored: Any = None) -> str | None:
    """Why a node may not make this request (a Forbidden message), or None when it may (or is no node).

    `body` is the object sent (create), `stored` the object as it is now (updates and deletes).
    """
    node = node_name_of(user)
    if node is None or method.upper() in READ_VERBS:
        return None
    verb = method.upper()
    who = f'User "{user.name}"'
    if resource == "events":
        return None
    if resource == "nodes":
        if name == node or (verb == "POST" and _meta_name(body) == node):
            return None
        return f'{who} cannot modify node "{name or _meta_name(body)}": a node may only modify its own Node'
    if resource == "leases":
        if namespace == "kube-node-lease" and (name == node or _meta_name(body) == node):
            return None
        return f"{who} cannot modify this lease: a node may only renew kube-node-lease/{node}"
    if resource == "pods":
        if verb == "POST" and not subresource:
            spec = (body or {}).get("spec") or {} if isinstance(body, dict) else {}
            annotations = ((body or {}).get("metadata") or {}).get("annotations") or {} if isinstance(body, dict) \
                else {}
            if spec.get("nodeName") == node and MIRROR_POD_ANNOTATION in annotations:
                return None
            return f"{who} may only create mirror pods bound to node {node}"
        bound = ((stored or {}).get("spec") or {}).get("nodeName") if isinstance(stored, dict) else None
        if bound == node and (subresource == "status" or (verb == "DELETE" and not subresource)):
            return None
        return f'{who} cannot modify pod "{name}": it is not bound to node {node}'
    return f"{who} cannot modify {resource}: nodes may only write their Node, Lease, pods and events"


def _meta_name(obj: Any) -> str | None:
    if isinstance(obj, dict) and isinstance(obj.get("metadata"), dict):
        value = obj["metadata"].get("name")
        return str(value) if value else None
    return None
