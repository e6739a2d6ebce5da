"""The scheduler: binds pending pods to nodes, kube-scheduler style.

Where things are: `scheduler.py` (the loop: decide, assume, bind, report), `queue.py` (active,
back-off and unschedulable sub-queues), `cache.py` (nodes and placed pods, assumed pods),
`framework.py` (extension points, Status, FitError), `schedule_one.py` (sampling, scoring,
selection), `event_handlers.py` (informers to cache and queue), and `plugins/`, one file per
plugin (node_unschedulable, node_name, taint_toleration, node_affinity, node_resources_fit,
balanced_allocation, selector_spread, default_preemption, default_binder).
"""
