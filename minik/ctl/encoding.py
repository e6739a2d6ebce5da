"""Serializations as kubectl writes them: -o yaml (sigs.k8s.io/yaml), -o json, Go's fmt.Sprint.

kubectl's YAML has sorted keys, unindented lists under their key, double quotes for strings that
would otherwise read back as another type (`"1"`, `"true"`, timestamps, `""`), single quotes for
strings YAML syntax forbids unquoted, and literal blocks for multi-line strings.
"""

from __future__ import annotations

import json
from typing import Any

import yaml


class _KubectlDumper(yaml.SafeDumper):
    def choose_scalar_style(self) -> str:
        event = self.event
        style: str = super().choose_scalar_style()
        implicit = getattr(event, "implicit", (True, True))
        if style == "'" and not implicit[0] and getattr(event, "tag", None) == "tag:yaml.org,2002:str":
            return '"'
        return style

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_KubectlDumper.add_representer(str, _represent_str)


def to_yaml(obj: Any) -> str:
    """One object (or List) as `kubectl get -o yaml` prints it."""
    return yaml.dump(obj, Dumper=_KubectlDumper, default_flow_style=False, sort_keys=True,
                     allow_unicode=True, width=1 << 30, indent=2)


def go_json_indent(obj: Any, sort_keys: bool = True) -> str:
    """json.MarshalIndent(obj, "", "    ") plus the newline kubectl's JSON printer adds. Maps come out
    sorted; a typed object kubectl built itself (`run --dry-run=client`) keeps its struct's field order."""
    text = json.dumps(obj, indent=4, sort_keys=sort_keys, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") + "\n"


def go_json_compact(obj: Any) -> str:
    """encoding/json.Marshal: compact, sorted keys, HTML characters escaped."""
    text = json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def go_sprint(value: Any) -> str:
    """fmt.Sprint of decoded JSON: `map[k:v]`, `[a b]`, `<nil>`, plain scalars."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_sprint(value[k])}" for k in sorted(value)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_sprint(v) for v in value) + "]"
    return str(value)
