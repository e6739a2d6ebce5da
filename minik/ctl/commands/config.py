"""`minictl config view|get-contexts|current-context|use-context|set-context`, as kubectl prints them."""

from __future__ import annotations

import argparse
import copy
import json
import sys
from typing import Any

from minik.client.kubeconfig import ConfigError, read_raw, set_current_context, write_raw
from minik.ctl.cli import Command, Parser
from minik.ctl.encoding import to_yaml
from minik.ctl.errors import CtlError, error
from minik.ctl.output import parse_output, print_objects
from minik.ctl.session import Session
from minik.ctl.tabwriter import kubectl_table_writer

Obj = dict[str, Any]

REDACTED = "REDACTED"
DATA_OMITTED = "DATA+OMITTED"
_SECRET_KEYS = ("token", "password")
_DATA_KEYS = ("certificate-authority-data", "client-certificate-data", "client-key-data")

# clientcmd/api/v1 struct field order, which `config view -o json` follows.
_CLUSTER_ORDER = ("server", "tls-server-name", "insecure-skip-tls-verify", "certificate-authority",
                  "certificate-authority-data", "proxy-url", "disable-compression", "extensions")
_USER_ORDER = ("client-certificate", "client-certificate-data", "client-key", "client-key-data", "token",
               "tokenFile", "as", "as-uid", "as-groups", "as-user-extra", "username", "password", "exec",
               "extensions")
_CONTEXT_ORDER = ("cluster", "user", "namespace", "extensions")


def _read(session: Session) -> Obj:
    try:
        return read_raw(session.kubeconfig_path)
    except ConfigError as e:
        raise error(str(e)) from e


def _entries(cfg: Obj, section: str) -> list[Obj]:
    entries = [e for e in cfg.get(section) or [] if isinstance(e, dict)]
    return sorted(entries, key=lambda e: str(e.get("name")))


def normalized(cfg: Obj, raw: bool, minify: bool, context: str | None = None) -> Obj:
    """The config as `kubectl config view` shows it: sorted, secrets redacted unless --raw."""
    clusters, users, contexts = _entries(cfg, "clusters"), _entries(cfg, "users"), _entries(cfg, "contexts")
    current = str(cfg.get("current-context") or "")
    if minify:
        name = context or current
        if not name:
            raise error("current-context must exist in order to minify")
        ctx = next((c for c in contexts if c.get("name") == name), None)
        if ctx is None:
            raise error(f'cannot locate context {name}')
        body = ctx.get("context") or {}
        contexts = [ctx]
        clusters = [c for c in clusters if c.get("name") == body.get("cluster")]
        users = [u for u in users if u.get("name") == body.get("user")]
        current = name
    users = copy.deepcopy(users)
    clusters = copy.deepcopy(clusters)
    if not raw:
        for u in users:
            body = u.get("user") or {}
            for key in _SECRET_KEYS:
                if body.get(key):
                    body[key] = REDACTED
            for key in _DATA_KEYS:
                if body.get(key):
                    body[key] = DATA_OMITTED
        for c in clusters:
            body = c.get("cluster") or {}
            if body.get("certificate-authority-data"):
                body["certificate-authority-data"] = DATA_OMITTED
    out: Obj = {"kind": "Config", "apiVersion": "v1"}
    if cfg.get("preferences"):
        out["preferences"] = cfg["preferences"]
    out["clusters"] = [_ordered(c, "cluster", _CLUSTER_ORDER, ()) for c in clusters]
    out["users"] = [_ordered(u, "user", _USER_ORDER, ()) for u in users]
    out["contexts"] = [_ordered(c, "context", _CONTEXT_ORDER, ("cluster", "user")) for c in contexts]
    out["current-context"] = current
    return out


def _ordered(entry: Obj, key: str, order: tuple[str, ...], always: tuple[str, ...]) -> Obj:
    body = entry.get(key) or {}
    ordered = {k: body[k] for k in order if k in body}
    ordered.update({k: "" for k in always if k not in ordered})
    ordered.update({k: v for k, v in body.items() if k not in ordered})
    return {"name": entry.get("name"), key: ordered}


def _view_configure(p: Parser) -> None:
    p.add_bool("--raw", help="Display raw byte data and sensitive data")
    p.add_bool("--minify", help="Remove all information not used by current-context from the output")
    p.add_bool("--flatten", help="Flatten the resulting kubeconfig file into self-contained output")
    p.add_argument("-o", "--output", default="yaml", help="Output format: yaml, json, jsonpath=...")


def _view(session: Session, args: argparse.Namespace) -> int:
    cfg = normalized(_read(session), bool(args.raw), bool(args.minify), session.context)
    fmt = parse_output(args.output)
    if fmt.kind == "yaml":
        sys.stdout.write(to_yaml(cfg))
    elif fmt.kind == "json":
        sys.stdout.write(json.dumps(cfg, indent=4) + "\n")
    else:
        print_objects(fmt, [cfg], True, sys.stdout)
    return 0


def _get_contexts_configure(p: Parser) -> None:
    p.add_argument("names", nargs="*", help="Context names to show")
    p.add_bool("--no-headers", help="When using the default output format, don't print headers.")
    p.add_argument("-o", "--output", help="Output format. One of: (name).")


def _get_contexts(session: Session, args: argparse.Namespace) -> int:
    cfg = _read(session)
    contexts = _entries(cfg, "contexts")
    current = str(cfg.get("current-context") or "")
    if args.output not in (None, "name"):
        raise error(f"output must be one of '' or 'name': {args.output}")
    wanted = contexts
    missing: list[str] = []
    if args.names:
        by_name = {str(c.get("name")): c for c in contexts}
        wanted = [by_name[n] for n in args.names if n in by_name]
        missing = [n for n in args.names if n not in by_name]
    if args.output == "name":
        for c in wanted:
            print(c.get("name"))
    else:
        tw = kubectl_table_writer(sys.stdout)
        if not args.no_headers:
            tw.write("CURRENT\tNAME\tCLUSTER\tAUTHINFO\tNAMESPACE\n")
        for c in wanted:
            body = c.get("context") or {}
            mark = "*" if c.get("name") == current else ""
            tw.write(f"{mark}\t{c.get('name')}\t{body.get('cluster') or ''}\t{body.get('user') or ''}\t"
                     f"{body.get('namespace') or ''}\n")
        tw.flush()
    if missing:
        raise CtlError("\n".join(f"error: context {n} not found" for n in missing))
    return 0


def _no_args(p: Parser) -> None:
    del p


def _current_context(session: Session, args: argparse.Namespace) -> int:
    current = str(_read(session).get("current-context") or "")
    if not current:
        raise error("current-context is not set")
    print(current)
    return 0


def _use_context_configure(p: Parser) -> None:
    p.add_argument("name", nargs="?", help="Context name")


def _use_context(session: Session, args: argparse.Namespace) -> int:
    if not args.name:
        raise error("Unexpected args: []")
    try:
        set_current_context(session.kubeconfig_path, args.name)
    except ConfigError as e:
        raise error(str(e)) from e
    print(f'Switched to context "{args.name}".')
    return 0


def _set_context_configure(p: Parser) -> None:
    p.add_argument("name", nargs="?", help="Context name")
    p.add_bool("--current", help="Modify the current context")
    p.add_argument("--cluster", dest="ctx_cluster", help="cluster for the context entry in kubeconfig")
    p.add_argument("--user", dest="ctx_user", help="user for the context entry in kubeconfig")


def _set_context(session: Session, args: argparse.Namespace) -> int:
    path = session.kubeconfig_path
    cfg = _read(session)
    name = args.name
    if args.current:
        if name:
            raise error("you cannot specify both a context name and --current")
        name = str(cfg.get("current-context") or "")
        if not name:
            raise error("no current context is set")
    if not name:
        raise error("you must specify a non-empty context name or --current")
    contexts = cfg.setdefault("contexts", [])
    entry = next((c for c in contexts if isinstance(c, dict) and c.get("name") == name), None)
    created = entry is None
    if entry is None:
        entry = {"name": name, "context": {"cluster": "", "user": ""}}
        contexts.append(entry)
    body = entry.setdefault("context", {})
    if not isinstance(body, dict):
        body = entry["context"] = {}
    if session.namespace_flag is not None:
        body["namespace"] = session.namespace_flag
    if args.ctx_cluster is not None:
        body["cluster"] = args.ctx_cluster
    if args.ctx_user is not None:
        body["user"] = args.ctx_user
    write_raw(path, cfg)
    print(f'Context "{name}" {"created" if created else "modified"}.')
    return 0


VIEW = Command("config view", "Display merged kubeconfig settings", _view_configure, _view)
GET_CONTEXTS = Command("config get-contexts", "Describe one or many contexts", _get_contexts_configure,
                       _get_contexts)
CURRENT_CONTEXT = Command("config current-context", "Display the current-context", _no_args,
                          _current_context)
USE_CONTEXT = Command("config use-context", "Set the current-context in a kubeconfig file",
                      _use_context_configure, _use_context)
SET_CONTEXT = Command("config set-context", "Set a context entry in kubeconfig", _set_context_configure,
                      _set_context)
COMMANDS = (VIEW, GET_CONTEXTS, CURRENT_CONTEXT, USE_CONTEXT, SET_CONTEXT)
