"""The runtime package: pods, containers and images on one node (CRI-shaped)."""
