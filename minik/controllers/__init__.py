"""The controller-manager: one module per controller, the shared informers in manager.py."""
