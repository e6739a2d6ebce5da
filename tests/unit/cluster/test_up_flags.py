"""`ClusterConfig.up_flags()` is what tests and benchmarks pass to `minik up`: it must round-trip."""

from __future__ import annotations

from pathlib import Path

from minik.cluster.config import ClusterConfig
from minik.cluster.up import parse_args


def test_up_flags_parse_back_to_the_same_cluster(tmp_path: Path) -> None:
    cfg = ClusterConfig(state_dir=tmp_path / "state", port=16443, etcd_port=12379, etcd_peer_port=12380,
                        registry_port=15000, kubelet_port=10350, lab_cidr="10.79.0.0/24", pod_cidr="10.200.0.0/16",
                        service_cidr="10.112.0.0/12", backend="vxlan", nodes=3)
    parsed, wait = parse_args(cfg.up_flags())
    assert parsed == cfg and wait == 180.0
