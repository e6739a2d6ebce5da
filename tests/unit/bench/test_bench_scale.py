"""The scale scenario's sizes and /proc reading (the run itself needs a control plane: `python -m bench scale`)."""

from __future__ import annotations

import os

from bench.framework import Options, load_scenarios
from bench.scale import NAMESPACE, Counts, deployment, memory


def test_full_and_quick_sizes_match_the_issue() -> None:
    full, quick = Counts.of(Options()), Counts.of(Options(quick=True))
    assert (full.nodes, full.pods) == (1000, 30_000)
    assert (quick.nodes, quick.pods) == (100, 1000)
    assert "scale" in load_scenarios()


def test_deployment_selects_its_own_pods() -> None:
    d = deployment(3, 1000)
    assert d["metadata"]["namespace"] == NAMESPACE and d["spec"]["replicas"] == 1000
    assert d["spec"]["selector"]["matchLabels"].items() <= d["spec"]["template"]["metadata"]["labels"].items()


def test_memory_reads_rss_and_peak_from_proc() -> None:
    mine = memory(os.getpid())
    assert mine is not None and 0 < mine.rss_mib <= mine.peak_mib
    assert memory(None) is None
