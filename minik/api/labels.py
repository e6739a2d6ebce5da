"""Label selectors: the one implementation the apiserver (list/watch filtering) and controllers share.

Semantics, grammar and error texts follow apimachinery's `labels` package so that a selector
typed for kubectl behaves, and fails, the same way here:

    <selector>    ::= <requirement> | <requirement> "," <selector>
    <requirement> ::= ["!"] KEY [ ("in" | "notin") "(" VALUES ")" | ("=" | "==" | "!=") VALUE ]

`!=` and `notin` also match objects that lack the key; `key` means "has the key" and `!key`
means "lacks it".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from minik.api.names import max_len_error, regex_error, validate_dns1123_subdomain


class SelectorError(ValueError):
    """A label or field selector that cannot be parsed or built; the text is apimachinery's."""


# --- operators (apimachinery's selection.Operator values) ---------------------------------

EQUALS = "="
DOUBLE_EQUALS = "=="
NOT_EQUALS = "!="
IN = "in"
NOT_IN = "notin"
EXISTS = "exists"
DOES_NOT_EXIST = "!"
GREATER_THAN = "gt"
LESS_THAN = "lt"

# The order apimachinery lists them in its "expected: ..." and "supported values" messages.
_BINARY_OPERATORS = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN)
_UNARY_OPERATORS = (EXISTS, DOES_NOT_EXIST)
OPERATORS = _BINARY_OPERATORS + _UNARY_OPERATORS

# --- label key / value syntax --------------------------------------------------------------

LABEL_KEY_MAX_LENGTH = 63
LABEL_VALUE_MAX_LENGTH = 63
_LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT = "(" + _LABEL_KEY_FMT + ")?"
_LABEL_KEY_RE = re.compile(_LABEL_KEY_FMT)
_LABEL_VALUE_RE = re.compile(_LABEL_VALUE_FMT)
_LABEL_KEY_MSG = ("must consist of alphanumeric characters, '-', '_' or '.', "
                  "and must start and end with an alphanumeric character")
_LABEL_VALUE_MSG = ("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
                    "or '.', and must start and end with an alphanumeric character")
_LABEL_KEY_EXAMPLES = ("MyName", "my.name", "123-abc")
_INT64_RE = re.compile(r"[+-]?[0-9]+")


def validate_label_key(key: str) -> list[str]:
    """Qualified-name rules: optional DNS-1123 subdomain prefix and '/', then a 63-char name."""
    errs: list[str] = []
    parts = key.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in validate_dns1123_subdomain(prefix, length_unit="bytes"))
    else:
        return ["a valid label key " + regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, *_LABEL_KEY_EXAMPLES)
                + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
    if not name:
        errs.append("name part must be non-empty")
    elif len(name.encode("utf-8", "surrogatepass")) > LABEL_KEY_MAX_LENGTH:
        errs.append("name part " + max_len_error(LABEL_KEY_MAX_LENGTH, "bytes"))
    if not _LABEL_KEY_RE.fullmatch(name):
        errs.append("name part " + regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, *_LABEL_KEY_EXAMPLES))
    return errs


def validate_label_value(value: str) -> list[str]:
    """Label values: at most 63 characters, may be empty."""
    errs: list[str] = []
    if len(value.encode("utf-8", "surrogatepass")) > LABEL_VALUE_MAX_LENGTH:
        errs.append(max_len_error(LABEL_VALUE_MAX_LENGTH, "bytes"))
    if not _LABEL_VALUE_RE.fullmatch(value):
        errs.append(regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


# --- error rendering (apimachinery's field.Error / utilerrors.Aggregate text) --------------


def _quote(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def _go_string_slice(values: Sequence[str] | None) -> str:
    """Go's %#v of a []string, which is how apimachinery shows a bad `values` list."""
    if values is None:
        return "[]string(nil)"
    return "[]string{" + ", ".join(_quote(v) for v in values) + "}"


def _aggregate(messages: list[str]) -> str:
    unique = list(dict.fromkeys(messages))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


# --- requirements and selectors -------------------------------------------------------------


def _parse_int64(text: str) -> int | None:
    if not _INT64_RE.fullmatch(text):
        return None
    number = int(text)
    return number if -(2**63) <= number < 2**63 else None


@dataclass(frozen=True)
class Requirement:
    """One `key op values` term. Build through new_requirement() to get Kubernetes' validation."""

    key: str
    operator: str
    values: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.values, tuple):
            object.__setattr__(self, "values", tuple(self.values))

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op in (IN, EQUALS, DOUBLE_EQUALS):
            return self.key in labels and labels[self.key] in self.values
        if op in (NOT_IN, NOT_EQUALS):
            # Kubernetes: an object without the key is "not equal" to any value.
            return self.key not in labels or labels[self.key] not in self.values
        if op == EXISTS:
            return self.key in labels
        if op == DOES_NOT_EXIST:
            return self.key not in labels
        if op in (GREATER_THAN, LESS_THAN):
            if self.key not in labels or len(self.values) != 1:
                return False
            have, want = _parse_int64(labels[self.key]), _parse_int64(self.values[0])
            if have is None or want is None:
                return False
            return have > want if op == GREATER_THAN else have < want
        return False

    def __str__(self) -> str:
        op = self.operator
        if op == EXISTS:
            return self.key
        if op == DOES_NOT_EXIST:
            return "!" + self.key
        symbol = {EQUALS: "=", DOUBLE_EQUALS: "==", NOT_EQUALS: "!=", IN: " in ", NOT_IN: " notin ",
                  GREATER_THAN: ">", LESS_THAN: "<"}.get(op, op)
        values = self.values[0] if len(self.values) == 1 else ",".join(sorted(self.values))
        if op in (IN, NOT_IN):
            values = f"({values})"
        return f"{self.key}{symbol}{values}"


def new_requirement(key: str, operator: str, values: Iterable[str] | None = None) -> Requirement:
    """apimachinery's NewRequirement: validate key, operator arity and every value, or raise."""
    vals = None if values is None else list(values)
    count = len(vals or [])
    errs: list[str] = []
    key_errs = validate_label_key(key)
    if key_errs:
        errs.append(f"key: Invalid value: {_quote(key)}: {'; '.join(key_errs)}")
    bad_values = f"values: Invalid value: {_go_string_slice(vals)}: "
    if operator in (IN, NOT_IN):
        if count == 0:
            errs.append(bad_values + "for 'in', 'notin' operators, values set can't be empty")
    elif operator in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
        if count != 1:
            errs.append(bad_values + "exact-match compatibility requires one single value")
    elif operator in (EXISTS, DOES_NOT_EXIST):
        if count != 0:
            errs.append(bad_values + "values set must be empty for exists and does not exist")
    elif operator in (GREATER_THAN, LESS_THAN):
        if count != 1:
            errs.append(bad_values + "for 'Gt', 'Lt' operators, exactly one value is required")
        for i, v in enumerate(vals or []):
            if _parse_int64(v) is None:
                errs.append(f"values[{i}]: Invalid value: {_quote(v)}: "
                            "for 'Gt', 'Lt' operators, the value must be an integer")
    else:
        supported = ", ".join(_quote(o) for o in OPERATORS)
        errs.append(f"operator: Unsupported value: {_quote(operator)}: supported values: {supported}")
    for i, v in enumerate(vals or []):
        value_errs = validate_label_value(v)
        if value_errs:
            errs.append(f"values[{i}][{key}]: Invalid value: {_quote(v)}: {'; '.join(value_errs)}")
    if errs:
        raise SelectorError(_aggregate(errs))
    return Requirement(key, operator, tuple(vals or ()))


@dataclass(frozen=True)
class Selector:
    """AND of requirements, kept sorted by key so the string form is canonical."""

    requirements: tuple[Requirement, ...] = ()
    match_nothing: bool = field(default=False, repr=False)

    @classmethod
    def everything(cls) -> Selector:
        return cls()

    @classmethod
    def nothing(cls) -> Selector:
        """What a nil LabelSelector means on a workload: select no objects at all."""
        return cls(match_nothing=True)

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.match_nothing:
            return False
        have = labels if labels is not None else {}
        return all(r.matches(have) for r in self.requirements)

    def empty(self) -> bool:
        """True when the selector does not restrict anything (nothing() is not empty)."""
        return not self.match_nothing and not self.requirements

    def add(self, *requirements: Requirement) -> Selector:
        if self.match_nothing:
            return self
        return Selector(tuple(sorted((*self.requirements, *requirements), key=lambda r: r.key)))

    def requires_exact_match(self, key: str) -> str | None:
        """The single value `key` must have (from `=`, `==` or a one-value `in`), so callers can index."""
        for r in self.requirements:
            if r.key == key:
                if r.operator in (EQUALS, DOUBLE_EQUALS, IN) and len(r.values) == 1:
                    return r.values[0]
                return None
        return None

    def __str__(self) -> str:
        return ",".join(str(r) for r in self.requirements)


def selector_from_set(labels: Mapping[str, str] | None) -> Selector:
    """Equality selector for a plain map (a Service's spec.selector); empty or None selects everything."""
    if not labels:
        return Selector.everything()
    return Selector(tuple(Requirement(k, EQUALS, (v,)) for k, v in sorted(labels.items())))


# --- string grammar --------------------------------------------------------------------------

_ERROR, _EOS, _CLOSE, _COMMA, _NOT, _DEQ, _EQ, _GT, _IDENT, _IN, _LT, _NEQ, _NOTIN, _OPEN = range(14)
_SYMBOLS = {")": _CLOSE, ",": _COMMA, "!": _NOT, "==": _DEQ, "=": _EQ, ">": _GT, "<": _LT, "!=": _NEQ,
            "(": _OPEN}
_SPECIAL = frozenset("=!(),><")
_WHITESPACE = frozenset(" \t\r\n")
_KEYS, _VALUES = 0, 1  # parser contexts: in VALUES context "in"/"notin" are plain identifiers


def _lex(text: str) -> list[tuple[int, str]]:
    tokens: list[tuple[int, str]] = []
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in _WHITESPACE:
            i += 1
        if i >= n:
            tokens.append((_EOS, ""))
            return tokens
        if text[i] in _SPECIAL:
            # Longest operator wins: "==" and "!=" over "=" and "!".
            sym = text[i:i + 2] if text[i:i + 2] in ("==", "!=") else text[i]
            tokens.append((_SYMBOLS[sym], sym))
            i += len(sym)
            continue
        start = i
        while i < n and text[i] not in _SPECIAL and text[i] not in _WHITESPACE:
            i += 1
        word = text[start:i]
        tokens.append((_IN if word == "in" else _NOTIN if word == "notin" else _IDENT, word))


class _Parser:
    """Recursive descent over the token list, mirroring apimachinery's parser and its messages."""

    def __init__(self, text: str) -> None:
        self.tokens = _lex(text)
        self.pos = 0

    def lookahead(self, ctx: int) -> tuple[int, str]:
        tok, lit = self.tokens[self.pos]
        if ctx == _VALUES and tok in (_IN, _NOTIN):
            tok = _IDENT
        return tok, lit

    def consume(self, ctx: int) -> tuple[int, str]:
        tok, lit = self.lookahead(ctx)
        self.pos += 1
        return tok, lit

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            tok, lit = self.lookahead(_VALUES)
            if tok in (_IDENT, _NOT):
                try:
                    requirements.append(self.parse_requirement())
                except SelectorError as exc:
                    raise SelectorError(f"unable to parse requirement: {exc}") from None
                tok, lit = self.consume(_VALUES)
                if tok == _EOS:
                    return requirements
                if tok != _COMMA:
                    raise SelectorError(f"found '{lit}', expected: ',' or 'end of string'")
                tok2, lit2 = self.lookahead(_VALUES)
                if tok2 not in (_IDENT, _NOT):
                    raise SelectorError(f"found '{lit2}', expected: identifier after ','")
            elif tok == _EOS:
                return requirements
            else:
                raise SelectorError(f"found '{lit}', expected: !, identifier, or 'end of string'")

    def parse_requirement(self) -> Requirement:
        key, operator = self.parse_key_and_infer_operator()
        if operator in (EXISTS, DOES_NOT_EXIST):
            return new_requirement(key, operator, [])
        operator = self.parse_operator()
        values = self.parse_values() if operator in (IN, NOT_IN) else self.parse_exact_value()
        return new_requirement(key, operator, sorted(values))

    def parse_key_and_infer_operator(self) -> tuple[str, str]:
        operator = ""
        tok, lit = self.consume(_VALUES)
        if tok == _NOT:
            operator = DOES_NOT_EXIST
            tok, lit = self.consume(_VALUES)
        if tok != _IDENT:
            raise SelectorError(f"found '{lit}', expected: identifier")
        errs = validate_label_key(lit)
        if errs:
            raise SelectorError(f"<nil>: Invalid value: {_quote(lit)}: {'; '.join(errs)}")
        if self.lookahead(_VALUES)[0] in (_EOS, _COMMA) and operator != DOES_NOT_EXIST:
            operator = EXISTS
        return lit, operator

    def parse_operator(self) -> str:
        tok, lit = self.consume(_KEYS)
        ops = {_IN: IN, _EQ: EQUALS, _DEQ: DOUBLE_EQUALS, _GT: GREATER_THAN, _LT: LESS_THAN,
               _NOTIN: NOT_IN, _NEQ: NOT_EQUALS}
        if tok not in ops:
            raise SelectorError(f"found '{lit}', expected: {', '.join(_BINARY_OPERATORS)}")
        return ops[tok]

    def parse_values(self) -> set[str]:
        tok, lit = self.consume(_VALUES)
        if tok != _OPEN:
            raise SelectorError(f"found '{lit}' expected: '('")
        tok, lit = self.lookahead(_VALUES)
        if tok in (_IDENT, _COMMA):
            values = self.parse_identifiers_list()
            self.consume(_VALUES)  # the ")" parse_identifiers_list stopped at
            return values
        if tok == _CLOSE:  # "()" means the one empty value
            self.consume(_VALUES)
            return {""}
        raise SelectorError(f"found '{lit}', expected: ',', ')' or identifier")

    def parse_identifiers_list(self) -> set[str]:
        values: set[str] = set()
        while True:
            tok, lit = self.consume(_VALUES)
            if tok == _IDENT:
                values.add(lit)
                tok2, lit2 = self.lookahead(_VALUES)
                if tok2 == _COMMA:
                    continue
                if tok2 == _CLOSE:
                    return values
                raise SelectorError(f"found '{lit2}', expected: ',' or ')'")
            if tok == _COMMA:
                # Empty strings between commas are values: "(,a)", "(a,)", "(a,,b)".
                if not values:
                    values.add("")
                tok2, _ = self.lookahead(_VALUES)
                if tok2 == _CLOSE:
                    values.add("")
                    return values
                if tok2 == _COMMA:
                    values.add("")
                continue
            raise SelectorError(f"found '{lit}', expected: ',', or identifier")

    def parse_exact_value(self) -> set[str]:
        tok, _ = self.lookahead(_VALUES)
        if tok in (_EOS, _COMMA):
            return {""}
        tok, lit = self.consume(_VALUES)
        if tok == _IDENT:
            return {lit}
        raise SelectorError(f"found '{lit}', expected: identifier")


def parse_selector(text: str) -> Selector:
    """Parse the `labelSelector` query / `kubectl -l` syntax; an empty string selects everything."""
    return Selector().add(*_Parser(text).parse())


# --- metav1.LabelSelector --------------------------------------------------------------------

_SELECTOR_OPERATORS = {"In": IN, "NotIn": NOT_IN, "Exists": EXISTS, "DoesNotExist": DOES_NOT_EXIST}


def _as_dict(sel: Any) -> Mapping[str, Any]:
    if isinstance(sel, Mapping):
        return sel
    to_dict = getattr(sel, "to_dict", None)
    if callable(to_dict):
        data = to_dict()
        if isinstance(data, Mapping):
            return data
    raise SelectorError(f"label selector must be an object, got {type(sel).__name__}")


def from_label_selector(sel: Any) -> Selector:
    """metav1.LabelSelectorAsSelector: None selects nothing, {} selects everything.

    Accepts the meta.LabelSelector model or its wire dict (matchLabels / matchExpressions).
    """
    if sel is None:
        return Selector.nothing()
    data = _as_dict(sel)
    match_labels = data.get("matchLabels") or {}
    match_expressions = data.get("matchExpressions") or []
    if not isinstance(match_labels, Mapping):
        raise SelectorError("matchLabels must be an object of string keys and values")
    if not isinstance(match_expressions, list):
        raise SelectorError("matchExpressions must be a list")
    if not match_labels and not match_expressions:
        return Selector.everything()
    requirements: list[Requirement] = []
    for key, value in sorted(match_labels.items()):
        if not isinstance(key, str) or not isinstance(value, str):
            raise SelectorError(f"matchLabels[{key}]: must be a string")
        requirements.append(new_requirement(key, EQUALS, [value]))
    for expr in match_expressions:
        expr_data = _as_dict(expr)
        op = expr_data.get("operator")
        if not isinstance(op, str) or op not in _SELECTOR_OPERATORS:
            shown = op if isinstance(op, str) else "" if op is None else json.dumps(op)
            raise SelectorError(f"{_quote(shown)} is not a valid label selector operator")
        key = expr_data.get("key")
        values = expr_data.get("values")
        if not isinstance(key, str):
            raise SelectorError("matchExpressions: key must be a string")
        if values is not None and (not isinstance(values, list)
                                   or not all(isinstance(v, str) for v in values)):
            raise SelectorError(f"matchExpressions[{key}]: values must be a list of strings")
        requirements.append(new_requirement(key, _SELECTOR_OPERATORS[op], values or None))
    return Selector().add(*requirements)
