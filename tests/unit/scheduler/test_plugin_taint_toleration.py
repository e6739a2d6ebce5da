"""TaintToleration: toleration matching, the filter's message, and PreferNoSchedule scoring."""

from __future__ import annotations

from typing import Any

import pytest
from schedtest import filter_status, make_node, make_pod, scores, taint

from minik.api.core import Taint, Toleration
from minik.scheduler.plugins.helper import tolerates_taint
from minik.scheduler.plugins.taint_toleration import TaintToleration


@pytest.mark.parametrize(("toleration", "taint_", "tolerated"), [
    ({"key": "k", "operator": "Equal", "value": "v", "effect": "NoSchedule"}, taint("k", "v"), True),
    ({"key": "k", "value": "v"}, taint("k", "v"), True),  # empty operator means Equal, empty effect any
    ({"key": "k", "operator": "Equal", "value": "w"}, taint("k", "v"), False),
    ({"key": "k", "operator": "Equal"}, taint("k"), True),  # empty value equals empty value
    ({"key": "k", "operator": "Exists"}, taint("k", "anything"), True),
    ({"key": "other", "operator": "Exists"}, taint("k"), False),
    ({"operator": "Exists"}, taint("k", "v", "NoExecute"), True),  # empty key + Exists: everything
    ({"operator": "Exists", "effect": "NoSchedule"}, taint("k", "v", "NoExecute"), False),
    ({"key": "k", "operator": "Exists", "effect": "NoExecute"}, taint("k", None, "NoSchedule"), False),
    ({"key": "k", "operator": "Lt", "value": "5"}, taint("k", "3"), False),  # unknown operator
])
def test_tolerates_taint(toleration: dict[str, Any], taint_: dict[str, Any], tolerated: bool) -> None:
    assert tolerates_taint(Toleration.model_validate(toleration), Taint.model_validate(taint_)) is tolerated


def _untolerated(key: str, value: str = "") -> tuple[str, tuple[str, ...]]:
    return "UnschedulableAndUnresolvable", (f"node(s) had untolerated taint {{{key}: {value}}}",)


@pytest.mark.parametrize(("taints", "tolerations", "expected"), [
    ([], None, None),
    ([taint("dedicated", "gpu")], None, _untolerated("dedicated", "gpu")),
    ([taint("node-role.kubernetes.io/control-plane")], None, _untolerated("node-role.kubernetes.io/control-plane")),
    ([taint("dedicated", "gpu", "NoExecute")], None, _untolerated("dedicated", "gpu")),
    ([taint("spot", "true", "PreferNoSchedule")], None, None),  # only scoring
    ([taint("dedicated", "gpu")], [{"key": "dedicated", "operator": "Equal", "value": "gpu"}], None),
    ([taint("a"), taint("b")], [{"key": "a", "operator": "Exists"}], _untolerated("b")),  # first untolerated
    ([taint("a"), taint("b")], None, _untolerated("a")),
    ([taint("a", effect="NoExecute")], [{"key": "a", "operator": "Exists", "effect": "NoSchedule"}],
     _untolerated("a")),
], ids=["no-taints", "no-toleration", "empty-value", "no-execute", "prefer-no-schedule", "tolerated",
        "second-taint", "first-taint-named", "effect-mismatch"])
def test_filter(taints: list[dict[str, Any]], tolerations: list[dict[str, Any]] | None, expected: Any) -> None:
    assert filter_status(TaintToleration(), make_pod(tolerations=tolerations), make_node(taints=taints)) == expected


def test_score_prefers_fewer_intolerable_prefer_no_schedule_taints() -> None:
    nodes = [make_node("clean"), make_node("one", taints=[taint("a", effect="PreferNoSchedule")]),
             make_node("two", taints=[taint("a", effect="PreferNoSchedule"), taint("b", effect="PreferNoSchedule"),
                                      taint("c", effect="NoSchedule")])]
    assert scores(TaintToleration(), make_pod(), nodes) == {"clean": 100, "one": 50, "two": 0}
    tolerant = make_pod(tolerations=[{"key": "a", "operator": "Exists", "effect": "PreferNoSchedule"}])
    assert scores(TaintToleration(), tolerant, nodes) == {"clean": 100, "one": 100, "two": 0}
    # A NoSchedule-only toleration does not count for PreferNoSchedule taints.
    wrong_effect = make_pod(tolerations=[{"key": "a", "operator": "Exists", "effect": "NoSchedule"}])
    assert scores(TaintToleration(), wrong_effect, nodes) == {"clean": 100, "one": 50, "two": 0}
    # No taints anywhere: every node would get 100, so the score is skipped (same choice, less work).
    assert scores(TaintToleration(), make_pod(), [make_node("a"), make_node("b")]) is None
