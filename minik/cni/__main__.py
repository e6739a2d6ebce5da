"""`python -m minik.cni`: the plugin executable the runtime runs, like containerd runs a CNI plugin."""

import sys

from minik.cni.plugin import main

sys.exit(main())
