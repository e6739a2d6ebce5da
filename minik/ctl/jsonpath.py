"""kubectl's JSONPath templates (k8s.io/client-go/util/jsonpath), for -o jsonpath, custom-columns, --sort-by.

Supported: text outside braces, `{.a.b}`, `{.items[*].metadata.name}`, `[0]`, `[-1:]`, `[1:3:2]`,
unions `[0,1]`, `['key']`, `*`, recursive `..name`, filters `[?(@.x=="y")]` (==, !=, <, >, <=, >=
and bare existence), `{range ...}...{end}`, quoted text `{"\\n"}`, escaped dots
`{.metadata.labels.app\\.kubernetes\\.io/name}`. Missing keys print nothing, as kubectl's default
`--allow-missing-template-keys=true` does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from minik.ctl.encoding import go_json_compact


class JSONPathError(Exception):
    """A template that does not parse, or an evaluation kubectl would reject."""


# --- nodes ------------------------------------------------------------------------------------


@dataclass
class Field:
    name: str


@dataclass
class Wildcard:
    pass


@dataclass
class Recursive:
    pass


@dataclass
class Slice:
    start: int | None
    end: int | None
    step: int | None
    end_derived: bool = False


@dataclass
class Union:
    branches: list[list[Any]]


@dataclass
class Filter:
    left: list[Any]
    op: str
    right: list[Any] | None
    literal: Any = None


@dataclass
class Root:
    pass


@dataclass
class Text:
    text: str


@dataclass
class Action:
    """One `{...}`: a path whose results are printed space separated."""

    steps: list[Any]


@dataclass
class Range:
    steps: list[Any]
    body: list[Any] = field(default_factory=list)


_TERMINATORS = set(" \t\r\n.,[]$@{}")
_SLICE_RE = re.compile(r"^(-?\d*)(:-?\d*)?(:-?\d*)?$")
_DICT_KEY_RE = re.compile(r"""^'([^']*)'$|^"([^"]*)"$""")
_OPS = ("==", "!=", "<=", ">=", "<", ">")


# --- parsing ----------------------------------------------------------------------------------


def parse(template: str) -> list[Any]:
    """Template text -> node list (Text, Action, Range with nested bodies)."""
    try:
        tokens = _split(template)
        nodes, rest = _build(tokens, 0, top=True)
    except JSONPathError as e:
        raise JSONPathError(f"error parsing jsonpath {template}, {e}") from None
    del rest
    return nodes


def _split(template: str) -> list[Any]:
    """Flat token list: Text, Action, Range (without body) and the string "end"."""
    out: list[Any] = []
    i, n = 0, len(template)
    while i < n:
        start = template.find("{", i)
        if start < 0:
            out.append(Text(template[i:]))
            break
        if start > i:
            out.append(Text(template[i:start]))
        end = _action_end(template, start + 1)
        out.extend(_parse_action(template[start + 1:end]))
        i = end + 1
    return out


def _action_end(text: str, i: int) -> int:
    quote, depth = "", 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "\\":
            i += 1
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "}":
            return i
        i += 1
    raise JSONPathError("unterminated array" if depth > 0 else "unclosed action")


def _parse_action(body: str) -> list[Any]:
    text = body.strip()
    if text == "end":
        return ["end"]
    if text.startswith("range ") or text == "range":
        return [Range(_parse_path(text[5:].strip()))]
    if text and text[0] in "\"'" and _quoted_end(text, 0) == len(text) - 1:
        return [Text(_unquote(text))]
    return [Action(_parse_path(text))]


def _quoted_end(text: str, i: int) -> int:
    quote = text[i]
    j = i + 1
    while j < len(text):
        if text[j] == "\\":
            j += 2
            continue
        if text[j] == quote:
            return j
        j += 1
    raise JSONPathError("unterminated quoted string")


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "0": "\0",
            "a": "\a", "b": "\b", "f": "\f", "v": "\v"}


def _unquote(text: str) -> str:
    """strconv.Unquote for the quoted text nodes ({"\\n"}, {'\\t'})."""
    inner, out, i = text[1:-1], [], 0
    while i < len(inner):
        ch = inner[i]
        if ch == "\\" and i + 1 < len(inner):
            nxt = inner[i + 1]
            if nxt == "u" and i + 5 < len(inner):
                out.append(chr(int(inner[i + 2:i + 6], 16)))
                i += 6
                continue
            out.append(_ESCAPES.get(nxt, nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _parse_path(text: str) -> list[Any]:
    steps: list[Any] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in " \t":
            i += 1
        elif ch == "$":
            steps.append(Root())
            i += 1
        elif ch == "@":
            i += 1
        elif ch == ".":
            if i + 1 < n and text[i + 1] == ".":
                steps.append(Recursive())
                i += 2
                continue
            i += 1
            j, name = _read_field(text, i)
            if name == "*":
                steps.append(Wildcard())
            elif name:
                steps.append(Field(name))
            i = j
        elif ch == "[":
            j = _bracket_end(text, i)
            steps.append(_parse_bracket(text[i + 1:j]))
            i = j + 1
        elif ch in "\"'":
            raise JSONPathError(f"unrecognized character in action: {ch}")
        else:
            j, name = _read_field(text, i)
            if not name:
                raise JSONPathError(f"unrecognized character in action: {ch}")
            steps.append(Wildcard() if name == "*" else Field(name))
            i = j
    return steps


def _read_field(text: str, i: int) -> tuple[int, str]:
    out: list[str] = []
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
            continue
        if ch in _TERMINATORS:
            break
        out.append(ch)
        i += 1
    return i, "".join(out)


def _bracket_end(text: str, i: int) -> int:
    depth, quote, j = 0, "", i
    while j < len(text):
        ch = text[j]
        if quote:
            if ch == "\\":
                j += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    raise JSONPathError("unterminated array")


def _parse_bracket(inner: str) -> Any:
    text = inner.strip()
    if text.startswith("?"):
        return _parse_filter(text[1:].strip())
    if text == "*":
        return Slice(None, None, None)
    parts = _split_union(text)
    if len(parts) > 1:
        return Union([[_parse_bracket(p.strip())] for p in parts])
    key = _DICT_KEY_RE.match(text)
    if key:
        return Field(key.group(1) if key.group(1) is not None else key.group(2))
    m = _SLICE_RE.match(text)
    if not m or not text:
        raise JSONPathError(f"invalid array index {text}")
    start_s, end_s, step_s = m.group(1), m.group(2), m.group(3)
    start = int(start_s) if start_s not in ("", "-") else None
    if end_s is None:
        end = (start + 1) if start is not None else None
        return Slice(start, end, None, end_derived=True)
    end = int(end_s[1:]) if end_s[1:] not in ("", "-") else None
    step = int(step_s[1:]) if step_s and step_s[1:] not in ("", "-") else None
    return Slice(start, end, step)


def _split_union(text: str) -> list[str]:
    parts: list[str] = []
    quote = ""
    buf: list[str] = []
    for ch in text:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch == ",":
            parts.append("".join(buf))
            buf = []
            continue
        buf.append(ch)
    parts.append("".join(buf))
    return parts


def _parse_filter(text: str) -> Filter:
    if not (text.startswith("(") and text.endswith(")")):
        raise JSONPathError(f"invalid filter {text}")
    body = text[1:-1].strip()
    quote = ""
    for i, ch in enumerate(body):
        if quote:
            if ch == quote:
                quote = ""
            continue
        if ch in "\"'":
            quote = ch
            continue
        for op in _OPS:
            if body.startswith(op, i):
                left = _parse_path(body[:i].strip())
                right_text = body[i + len(op):].strip()
                right, literal = _parse_operand(right_text)
                return Filter(left, op, right, literal)
    return Filter(_parse_path(body), "exists", None)


def _parse_operand(text: str) -> tuple[list[Any] | None, Any]:
    if text and text[0] in "\"'":
        return None, _unquote(text)
    if re.fullmatch(r"-?\d+", text):
        return None, int(text)
    if re.fullmatch(r"-?\d*\.\d+([eE][-+]?\d+)?", text):
        return None, float(text)
    if text in ("true", "false"):
        return None, text == "true"
    if text.startswith(("@", "$", ".")):
        return _parse_path(text), None
    raise JSONPathError(f"unrecognized identifier {text}")


def _build(tokens: list[Any], i: int, top: bool) -> tuple[list[Any], int]:
    nodes: list[Any] = []
    while i < len(tokens):
        tok = tokens[i]
        if tok == "end":
            if top:
                raise JSONPathError("not in range, nothing to end")
            return nodes, i + 1
        if isinstance(tok, Range):
            body, i = _build(tokens, i + 1, top=False)
            tok.body = body
            nodes.append(tok)
            continue
        nodes.append(tok)
        i += 1
    if not top:
        raise JSONPathError("unclosed range")
    return nodes, i


# --- evaluation -------------------------------------------------------------------------------


def find(steps: list[Any], root: Any, current: Any | None = None) -> list[Any]:
    """All values a path selects (kubectl's FindResults for one action)."""
    values = [root if current is None else current]
    for step in steps:
        values = _apply(step, values, root)
    return values


def _apply(step: Any, values: list[Any], root: Any) -> list[Any]:
    out: list[Any] = []
    if isinstance(step, Root):
        return [root]
    for value in values:
        if isinstance(step, Field):
            if isinstance(value, dict) and step.name in value:
                out.append(value[step.name])
        elif isinstance(step, Wildcard):
            if isinstance(value, dict):
                out.extend(value[k] for k in sorted(value))
            elif isinstance(value, list):
                out.extend(value)
        elif isinstance(step, Recursive):
            out.extend(_descendants(value))
        elif isinstance(step, Slice):
            if isinstance(value, list):
                out.extend(_slice(step, value))
        elif isinstance(step, Union):
            for branch in step.branches:
                out.extend(find(branch, root, value))
        elif isinstance(step, Filter) and isinstance(value, list):
            out.extend(item for item in value if _matches(step, item, root))
    return out


def _descendants(value: Any) -> list[Any]:
    out = [value]
    if isinstance(value, dict):
        for k in sorted(value):
            out.extend(_descendants(value[k]))
    elif isinstance(value, list):
        for item in value:
            out.extend(_descendants(item))
    return out


def _slice(step: Slice, items: list[Any]) -> list[Any]:
    length = len(items)
    start = step.start if step.start is not None else 0
    if start < 0:
        start += length
    end = step.end if step.end is not None else length
    if end < 0 or (step.end_derived and end == 0):
        end += length
    if end == start:
        return []
    if start < 0 or start >= length or end < 0 or end > length or start > end:
        return []
    if step.step is not None and step.step <= 0:
        raise JSONPathError(f"step must be > 0, got {step.step}")
    return items[start:end:step.step or 1]


def _matches(flt: Filter, item: Any, root: Any) -> bool:
    lefts = find(flt.left, root, item)
    if flt.op == "exists":
        return bool(lefts)
    if not lefts:
        return False
    if len(lefts) > 1:
        raise JSONPathError("can only compare one element at a time")
    left = lefts[0]
    if flt.right is not None:
        rights = find(flt.right, root, item)
        if len(rights) != 1:
            return False
        right = rights[0]
    else:
        right = flt.literal
    try:
        if flt.op == "==":
            return bool(left == right)
        if flt.op == "!=":
            return bool(left != right)
        if flt.op == "<":
            return bool(left < right)
        if flt.op == ">":
            return bool(left > right)
        if flt.op == "<=":
            return bool(left <= right)
        return bool(left >= right)
    except TypeError:
        return False


# --- printing ---------------------------------------------------------------------------------


def go_scalar(value: Any) -> str:
    """fmt.Fprint of a decoded JSON scalar."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    return str(value)


def format_results(values: list[Any]) -> str:
    """PrintResults: maps and lists as JSON, scalars as text, separated by single spaces."""
    return " ".join(go_json_compact(v) if isinstance(v, dict | list) else go_scalar(v) for v in values)


def execute(nodes: list[Any], data: Any) -> str:
    """Render a parsed template against `data`."""
    out: list[str] = []
    _walk(nodes, data, data, out)
    return "".join(out)


def _walk(nodes: list[Any], root: Any, current: Any, out: list[str]) -> None:
    for node in nodes:
        if isinstance(node, Text):
            out.append(node.text)
        elif isinstance(node, Action):
            out.append(format_results(find(node.steps, root, current)))
        elif isinstance(node, Range):
            for item in find(node.steps, root, current):
                _walk(node.body, root, item, out)


def render(template: str, data: Any) -> str:
    return execute(parse(template), data)


_RELAXED_RE = re.compile(r"^\{\.?([^{}]+)\}$|^\.?([^{}]+)$")


def relaxed(expression: str) -> str:
    """RelaxedJSONPathExpression: `a.b`, `.a.b`, `{a.b}` and `{.a.b}` all mean `{.a.b}`."""
    if not expression:
        return expression
    m = _RELAXED_RE.match(expression)
    if not m:
        raise JSONPathError("unexpected path string, expected a 'name1.name2' or '.name1.name2' or "
                            "'{name1.name2}' or '{.name1.name2}'")
    return "{." + (m.group(1) or m.group(2)) + "}"
