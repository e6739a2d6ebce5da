"""Hollow nodes (kubemark): many fake kubelets in one process, to load the control plane at scale.

A benchmarking tool only (`minik hollow-nodes`, bench/scale.py); no functional test relies on it.
Each hollow node registers its Node, renews its Lease and reports the pods bound to it as Running,
but starts no container: the apiserver, scheduler and controllers see a big cluster, the host pays
for one small process.
"""
