"""A real runtime for the integration tests: temp state dir and cgroup parent named minik-test-<pid>-*.

One runtime (and one build of the lab images) serves the session; every test gets it back empty:
whatever pods a test made are removed after it, pass or fail. Leftovers of a killed earlier run
(dead owner pid) are swept first; a concurrent run's are never touched.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from minik.runtime.cleanup import clean_stale_test_leftovers, remove_root
from minik.runtime.images.builder import build_lab_images
from minik.runtime.service import Runtime

sys.path.insert(0, str(Path(__file__).resolve().parent))  # runtime_pods.py, in every pytest import mode


def owned_name(kind: str) -> str:
    """A host-visible name for this run: prefix, owner pid (for stale sweeps), kind, random."""
    return f"minik-test-{os.getpid()}-{kind}-{secrets.token_hex(3)}"


def new_state_dir(kind: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=f"minik-test-{os.getpid()}-{kind}-"))


@pytest.fixture(scope="session")
def session_runtime() -> Iterator[Runtime]:
    if os.geteuid() != 0:
        pytest.skip("needs root (the kernel parts of minik do): run the suite as root")
    clean_stale_test_leftovers()
    root = new_state_dir("runtime")
    runtime: Runtime | None = None
    try:
        runtime = Runtime(root, cgroup_parent=owned_name("cg"))
        build_lab_images(runtime.images)
        yield runtime
    finally:
        if runtime is not None:
            for sandbox in runtime.list_pod_sandbox():
                runtime.remove_pod_sandbox(sandbox["id"])
        remove_root(root)
        if runtime is not None:
            runtime.cgroups.remove_parent()


@pytest.fixture
def runtime(session_runtime: Runtime) -> Iterator[Runtime]:
    """The session runtime, emptied of pods and containers after each test (even a failing one)."""
    try:
        yield session_runtime
    finally:
        for container in session_runtime.list_containers():
            session_runtime.remove_container(container["id"])
        for sandbox in session_runtime.list_pod_sandbox():
            session_runtime.remove_pod_sandbox(sandbox["id"])


@pytest.fixture
def pods(runtime: Runtime) -> Any:
    from runtime_pods import Pods

    return Pods(runtime)
