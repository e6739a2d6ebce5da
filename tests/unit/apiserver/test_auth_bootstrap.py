"""The authorizer's join rules: what anonymous callers and bootstrap tokens may reach, and token expiry."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

from minik.apiserver.auth import (
    TokenAuthenticator,
    UserInfo,
    anonymous_allowed,
    bootstrap_restriction,
)
from minik.cluster.tokens import bootstrap_file, create_bootstrap_token, ensure_token_file

BOOT = UserInfo("system:bootstrap:abcdef", "x", ("system:bootstrappers",))
ADMIN = UserInfo("system:admin", "y", ("system:masters",))


def test_anonymous_may_only_get_cluster_info() -> None:
    assert anonymous_allowed("GET", "/api/v1/namespaces/kube-public/configmaps/cluster-info")
    assert not anonymous_allowed("PUT", "/api/v1/namespaces/kube-public/configmaps/cluster-info")
    assert not anonymous_allowed("GET", "/api/v1/namespaces/kube-public/configmaps")
    assert not anonymous_allowed("GET", "/api/v1/namespaces/kube-system/configmaps/minik-config")


def test_bootstrap_tokens_reach_the_join_objects_only() -> None:
    assert bootstrap_restriction(BOOT, "GET", "configmaps", "kube-public", "cluster-info", None) is None
    assert bootstrap_restriction(BOOT, "GET", "configmaps", "kube-system", "minik-config", None) is None
    assert bootstrap_restriction(BOOT, "POST", "nodes", None, "vm1", "token") is None
    why = bootstrap_restriction(BOOT, "GET", "pods", "default", None, None)
    assert why is not None and why.startswith('pods is forbidden: User "system:bootstrap:abcdef" cannot get')
    assert bootstrap_restriction(BOOT, "PUT", "configmaps", "kube-public", "cluster-info", None) is not None
    assert bootstrap_restriction(BOOT, "POST", "nodes", None, None, None) is not None
    assert bootstrap_restriction(ADMIN, "DELETE", "pods", "default", "x", None) is None  # not a bootstrapper


def test_expired_bootstrap_tokens_do_not_authenticate(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.csv"
    ensure_token_file(tokens)
    token = create_bootstrap_token(tokens, datetime.timedelta(minutes=5))
    auth = TokenAuthenticator.from_file(str(tokens))
    user = auth.authenticate(f"Bearer {token.token}")
    assert user is not None and user.name == token.user and user.groups == ("system:bootstrappers",)
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=6)
    assert not auth.bootstrap_valid(token.id, now=later)
    side = bootstrap_file(tokens)
    side.write_text(json.dumps({token.id: {"expiration": "2001-01-01T00:00:00Z"}}))
    assert auth.authenticate(f"Bearer {token.token}") is None
    side.unlink()
    assert auth.authenticate(f"Bearer {token.token}") is None  # no record: refused, not trusted forever
