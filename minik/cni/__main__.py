"""`python -m minik.cni`: the plugin executable the runtime runs, like containerd runs a CNI plugin.

A fresh interpreter per CNI call, so its imports are most of a pod's network setup: pyroute2's
package `__init__` alone imports every API it has (NDB, IPDB, conntrack, nftables, wireguard...),
about a third of its import time. The plugin needs IPRoute only, so the package is registered
here without running its `__init__`; its submodules import as usual (also as `from pyroute2 import
config`), and anything that asks the package for another name gets the real `__init__` run first.
"""

import importlib.util
import sys
from types import ModuleType
from typing import Any


def _pyroute2_without_init() -> None:
    """Register `pyroute2` as a bare package; its `__init__` runs only when a name is asked of it."""
    if "pyroute2" in sys.modules:
        return
    spec = importlib.util.find_spec("pyroute2")
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        return  # not installed as a package: the first real import reports it
    package = importlib.util.module_from_spec(spec)

    def load_rest(name: str) -> Any:
        if not name.startswith("__") and importlib.util.find_spec(f"pyroute2.{name}") is not None:
            return importlib.import_module(f"pyroute2.{name}")  # `from pyroute2 import config`
        del package.__dict__["__getattr__"]
        assert spec.loader is not None
        spec.loader.exec_module(package)
        return getattr(package, name)

    package.__dict__["__getattr__"] = load_rest
    sys.modules["pyroute2"] = package


def _main() -> ModuleType:
    _pyroute2_without_init()
    from minik.cni import plugin

    return plugin


sys.exit(_main().main())
