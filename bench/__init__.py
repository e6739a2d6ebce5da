"""Performance scenarios (not tests): `python -m bench [scenario ...] [--quick]`.

Every number is measured next to a reference measured in the same run on the same machine.
"""
