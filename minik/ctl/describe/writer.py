"""describe's building blocks: the prefix writer over the tabwriter, and the shared sections.

Mirrors k8s.io/kubectl/pkg/describe: levels indent by two spaces, `key:\\tvalue` cells line up per
block, multi-line maps (labels, annotations, taints, tolerations) continue under their first value,
and the events table is flushed separately so it aligns on its own.
"""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from minik.apiserver.printers import human_duration, parse_time
from minik.ctl.tabwriter import describe_writer

Obj = dict[str, Any]
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
MAX_ANNOTATION_LEN = 140


class PrefixWriter:
    """describe.PrefixWriter: Write(level, text) indents by level; the text may contain tabs."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.tw = describe_writer(self.buffer)

    def write(self, level: int, text: str) -> None:
        self.tw.write("  " * level + text)

    def line(self, text: str = "") -> None:
        self.tw.write(text + "\n")

    def flush(self) -> None:
        self.tw.flush()

    def text(self) -> str:
        self.tw.flush()
        return self.buffer.getvalue()


def rfc1123z(value: Any) -> str:
    """time.RFC1123Z in local time (metav1.Time decodes to local); empty for a zero time."""
    ts = parse_time(value)
    if ts is None:
        return "Mon, 01 Jan 0001 00:00:00 +0000"
    return ts.astimezone().strftime("%a, %d %b %Y %H:%M:%S %z")


def since(value: Any, now: datetime) -> str:
    ts = parse_time(value)
    if ts is None:
        return "<unknown>"
    return human_duration((now - ts).total_seconds())


def labels_multiline(w: PrefixWriter, title: str, labels: dict[str, str] | None,
                     initial_indent: str = "", inner_indent: str = "\t") -> None:
    """printLabelsMultiline: `Labels:  a=b` then further keys on their own aligned lines."""
    w.write(0, f"{initial_indent}{title}:{inner_indent}")
    if not labels:
        w.line("<none>")
        return
    for i, key in enumerate(sorted(labels)):
        if i:
            w.write(0, initial_indent + inner_indent)
        w.write(0, f"{key}={labels[key]}\n")


def annotations_multiline(w: PrefixWriter, title: str, annotations: dict[str, str] | None) -> None:
    """printAnnotationsMultiline: skips last-applied-configuration, folds long values."""
    w.write(0, f"{title}:\t")
    keys = sorted(k for k in (annotations or {}) if k != LAST_APPLIED)
    if not keys:
        w.line("<none>")
        return
    assert annotations is not None
    for i, key in enumerate(keys):
        if i:
            w.write(0, "\t")
        value = annotations[key].removesuffix("\n")
        if len(value) + len(key) + 2 > MAX_ANNOTATION_LEN or "\n" in value:
            w.write(0, f"{key}:\n")
            for part in value.split("\n"):
                short = part if len(part) <= MAX_ANNOTATION_LEN - 2 else part[:MAX_ANNOTATION_LEN - 2] + "..."
                w.write(0, f"\t  {short}\n")
        else:
            w.write(0, f"{key}: {value}\n")


def taint_string(taint: Obj) -> str:
    """Taint.ToString: key[=value]:effect."""
    key, value, effect = taint.get("key", ""), taint.get("value") or "", taint.get("effect", "")
    text = f"{key}={value}" if value else str(key)
    return f"{text}:{effect}" if effect else text


def taints_multiline(w: PrefixWriter, title: str, taints: list[Obj] | None) -> None:
    w.write(0, f"{title}:\t")
    if not taints:
        w.line("<none>")
        return
    ordered = sorted(taints, key=lambda t: f"{t.get('effect', '')},{t.get('key', '')}")
    for i, taint in enumerate(ordered):
        if i:
            w.write(0, "\t")
        w.write(0, taint_string(taint) + "\n")


def tolerations_multiline(w: PrefixWriter, title: str, tolerations: list[Obj] | None,
                          initial_indent: str = "") -> None:
    """printTolerationsMultiline: `key=value:Effect op=Exists for 300s`."""
    w.write(0, f"{initial_indent}{title}:\t")
    if not tolerations:
        w.line("<none>")
        return
    for i, tol in enumerate(sorted(tolerations, key=lambda t: str(t.get("key") or ""))):
        if i:
            w.write(0, initial_indent + "\t")
        key, value, effect = tol.get("key") or "", tol.get("value") or "", tol.get("effect") or ""
        text = str(key)
        if value:
            text += f"={value}"
        if effect:
            text += f":{effect}"
        if tol.get("operator") == "Exists" and not value:
            text += " op=Exists" if key or effect else "op=Exists"
        if tol.get("tolerationSeconds") is not None:
            text += f" for {tol['tolerationSeconds']}s"
        w.write(0, text + "\n")


def _event_time(event: Obj) -> str:
    return str(event.get("lastTimestamp") or event.get("eventTime") or event.get("firstTimestamp") or "")


def describe_events(w: PrefixWriter, events: list[Obj] | None, now: datetime) -> None:
    """DescribeEvents: `<none>`, or a Type/Reason/Age/From/Message table aligned on its own."""
    if events is None:
        return
    if not events:
        w.write(0, "Events:\t<none>\n")
        return
    w.flush()
    w.write(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n")
    w.write(1, "----\t------\t----\t----\t-------\n")
    for e in sorted(events, key=lambda ev: parse_time(_event_time(ev)) or datetime.min.astimezone()):
        first = since(e.get("eventTime"), now) if parse_time(e.get("eventTime")) else \
            since(e.get("firstTimestamp"), now)
        series = e.get("series")
        count = int(e.get("count") or 0)
        if series:
            interval = (f"{since(series.get('lastObservedTime'), now)} (x{int(series.get('count') or 0)} "
                        f"over {first})")
        elif count > 1:
            interval = f"{since(e.get('lastTimestamp'), now)} (x{count} over {first})"
        else:
            interval = first
        source = (e.get("source") or {}).get("component") or e.get("reportingController") or ""
        message = str(e.get("message") or "").strip()
        w.write(1, f"{e.get('type', '')}\t{e.get('reason', '')}\t{interval}\t{source}\t{message}\n")


def controlled_by(obj: Obj) -> str:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return f"{ref.get('kind')}/{ref.get('name')}"
    return ""
