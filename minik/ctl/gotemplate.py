"""A small Go text/template for `-o go-template=...` (the subset kubectl users actually write).

Supported: `{{.a.b}}`, `{{.}}`, `{{$}}`, variables (`{{$x := .a}}`, `{{range $i, $e := .items}}`),
`{{range}}`/`{{if}}`/`{{with}}` with `{{else}}` and `{{end}}`, trim markers `{{-`/`-}}`, pipes,
string/number literals, and the functions index, len, printf, print, println, eq, ne, lt, le, gt,
ge, and, or, not, base64decode. Missing keys print `<no value>` like kubectl's default.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from dataclasses import dataclass, field
from typing import Any

from minik.ctl.encoding import go_sprint


class TemplateError(Exception):
    pass


_MISSING = object()


@dataclass
class _Node:
    kind: str  # text, action, range, if, with
    text: str = ""
    pipe: str = ""
    body: list[_Node] = field(default_factory=list)
    other: list[_Node] = field(default_factory=list)


_ACTION_RE = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)


def parse(template: str) -> list[_Node]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    for m in _ACTION_RE.finditer(template):
        text = template[pos:m.start()]
        if m.group(1):
            text = text.rstrip()
        tokens.append(("text", text))
        tokens.append(("action", m.group(2).strip()))
        pos = m.end()
        if m.group(3):
            rest = template[pos:]
            pos += len(rest) - len(rest.lstrip())
    tokens.append(("text", template[pos:]))
    nodes, i, end = _build(tokens, 0)
    if end is not None:
        raise TemplateError(f"unexpected {{{{{end}}}}}")
    return nodes


def _build(tokens: list[tuple[str, str]], i: int) -> tuple[list[_Node], int, str | None]:
    nodes: list[_Node] = []
    while i < len(tokens):
        kind, text = tokens[i]
        i += 1
        if kind == "text":
            if text:
                nodes.append(_Node("text", text))
            continue
        if text.startswith("/*"):
            continue
        word = text.split(None, 1)[0] if text else ""
        if word in ("end", "else"):
            return nodes, i, word
        if word in ("range", "if", "with"):
            node = _Node(word, pipe=text[len(word):].strip())
            node.body, i, closer = _build(tokens, i)
            if closer == "else":
                node.other, i, closer = _build(tokens, i)
            if closer != "end":
                raise TemplateError(f"unexpected EOF in {word}")
            nodes.append(node)
            continue
        nodes.append(_Node("action", pipe=text))
    return nodes, i, None


_TOKEN_RE = re.compile(r'\s*("(?:[^"\\]|\\.)*"|`[^`]*`|:=|\||\(|\)|,|[^\s|()",]+)')


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m:
            break
        out.append(m.group(1))
        pos = m.end()
    return out


class _Scope:
    def __init__(self, root: Any) -> None:
        self.vars: list[dict[str, Any]] = [{"$": root}]

    def get(self, name: str) -> Any:
        for frame in reversed(self.vars):
            if name in frame:
                return frame[name]
        raise TemplateError(f'undefined variable "{name}"')


def _field(value: Any, path: str) -> Any:
    for part in path.split(".")[1:]:
        if not part:
            continue
        if isinstance(value, dict):
            value = value.get(part, _MISSING)
        else:
            return _MISSING
        if value is _MISSING:
            return _MISSING
    return value


def _truthy(value: Any) -> bool:
    return value not in (None, _MISSING, False, 0, "", [], {})


def _compare(op: str, a: Any, *rest: Any) -> bool:
    if op == "eq":
        return any(a == b for b in rest)
    b = rest[0]
    return {"ne": a != b, "lt": a < b, "le": a <= b, "gt": a > b, "ge": a >= b}[op]


def _printf(fmt: str, *args: Any) -> str:
    """fmt.Sprintf for the verbs templates use: %v %s %d %q."""
    values = iter(args)

    def verb(m: re.Match[str]) -> str:
        if m.group() == "%%":
            return "%"
        value = next(values, _MISSING)
        text = _text(value)
        return json.dumps(text, ensure_ascii=False) if m.group() == "%q" else text

    return re.sub(r"%[vsdq%]", verb, fmt)


_FUNCS: dict[str, Any] = {
    "index": lambda v, *keys: _index(v, keys),
    "len": lambda v: len(v) if v is not _MISSING else 0,
    "printf": _printf,
    "print": lambda *a: "".join(_text(x) for x in a),
    "println": lambda *a: " ".join(_text(x) for x in a) + "\n",
    "not": lambda v: not _truthy(v),
    "and": lambda *a: next((x for x in a if not _truthy(x)), a[-1]),
    "or": lambda *a: next((x for x in a if _truthy(x)), a[-1]),
    "base64decode": lambda v: base64.b64decode(str(v)).decode(errors="replace"),
    **{op: functools.partial(_compare, op) for op in ("eq", "ne", "lt", "le", "gt", "ge")},
}


def _index(value: Any, keys: tuple[Any, ...]) -> Any:
    for key in keys:
        if isinstance(value, dict):
            value = value.get(key, _MISSING)
        elif isinstance(value, list) and isinstance(key, int) and -len(value) <= key < len(value):
            value = value[key]
        else:
            return _MISSING
    return value


def _operand(tok: str, dot: Any, scope: _Scope) -> Any:
    if tok.startswith('"'):
        return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t", "r": "\r"}.get(m.group(1), m.group(1)), tok[1:-1])
    if tok.startswith("`"):
        return tok[1:-1]
    if tok == ".":
        return dot
    if tok.startswith("."):
        return _field(dot, tok)
    if tok.startswith("$"):
        name, _, rest = tok.partition(".")
        value = scope.get(name)
        return _field(value, "." + rest) if rest else value
    if re.fullmatch(r"-?\d+", tok):
        return int(tok)
    if re.fullmatch(r"-?\d*\.\d+", tok):
        return float(tok)
    if tok in ("true", "false"):
        return tok == "true"
    if tok == "nil":
        return None
    raise TemplateError(f'function "{tok}" not defined')


def _eval_command(toks: list[str], dot: Any, scope: _Scope, piped: Any = _MISSING) -> Any:
    if not toks:
        raise TemplateError("missing value for command")
    args: list[Any] = []
    head = toks[0]
    i = 1 if head in _FUNCS else 0
    while i < len(toks):
        if toks[i] == "(":
            depth, j = 1, i + 1
            while j < len(toks) and depth:
                depth += {"(": 1, ")": -1}.get(toks[j], 0)
                j += 1
            args.append(_eval_pipeline(toks[i + 1:j - 1], dot, scope))
            i = j
            continue
        args.append(_operand(toks[i], dot, scope))
        i += 1
    if piped is not _MISSING:
        args.append(piped)
    if head in _FUNCS:
        return _FUNCS[head](*args)
    if len(args) != 1:
        raise TemplateError(f"can't give argument to non-function {head}")
    return args[0]


def _eval_pipeline(toks: list[str], dot: Any, scope: _Scope) -> Any:
    commands: list[list[str]] = [[]]
    depth = 0
    for tok in toks:
        depth += {"(": 1, ")": -1}.get(tok, 0)
        if tok == "|" and depth == 0:
            commands.append([])
        else:
            commands[-1].append(tok)
    value: Any = _MISSING
    for i, command in enumerate(commands):
        value = _eval_command(command, dot, scope, value if i else _MISSING)
    return value


def _declaration(pipe: str) -> tuple[list[str], str]:
    toks = _tokens(pipe)
    if ":=" in toks:
        at = toks.index(":=")
        names = [t for t in toks[:at] if t != ","]
        return names, " ".join(toks[at + 1:])
    return [], pipe


def _text(value: Any) -> str:
    if value is _MISSING:
        return "<no value>"
    if isinstance(value, str):
        return value
    return go_sprint(value)


def _walk(nodes: list[_Node], dot: Any, scope: _Scope, out: list[str]) -> None:
    for node in nodes:
        if node.kind == "text":
            out.append(node.text)
            continue
        names, pipe = _declaration(node.pipe)
        value = _eval_pipeline(_tokens(pipe), dot, scope)
        if node.kind == "action":
            if names:
                scope.vars[-1][names[0]] = value
            else:
                out.append(_text(value))
        elif node.kind == "if":
            _walk(node.body if _truthy(value) else node.other, dot, scope, out)
        elif node.kind == "with":
            if _truthy(value):
                _walk(node.body, value, scope, out)
            else:
                _walk(node.other, dot, scope, out)
        elif node.kind == "range":
            items = sorted(value.items()) if isinstance(value, dict) else \
                list(enumerate(value)) if isinstance(value, list) else []
            if not items:
                _walk(node.other, dot, scope, out)
            for key, item in items:
                scope.vars.append({})
                if len(names) == 1:
                    scope.vars[-1][names[0]] = item
                elif len(names) == 2:
                    scope.vars[-1][names[0]], scope.vars[-1][names[1]] = key, item
                _walk(node.body, item, scope, out)
                scope.vars.pop()


def render(template: str, data: Any) -> str:
    """Execute a template against `data` (kubectl's GoTemplatePrinter with missing keys allowed)."""
    try:
        nodes = parse(template)
        out: list[str] = []
        _walk(nodes, data, _Scope(data), out)
    except (TemplateError, TypeError, ValueError, KeyError) as e:
        raise TemplateError(f"error executing template {template!r}: {e}") from e
    return "".join(out)
