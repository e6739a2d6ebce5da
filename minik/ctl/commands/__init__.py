"""Every minictl command, by name (two-word names for the subcommands of `config`, `rollout`, `set`)."""

from __future__ import annotations

from minik.ctl.cli import Command
from minik.ctl.commands import (
    api_resources,
    apply,
    cluster_info,
    config,
    cordon,
    create,
    delete,
    describe,
    exec,
    get,
    label,
    logs,
    replace,
    rollout,
    run,
    scale,
    set_image,
    taint,
    version,
)

COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        get.COMMAND, describe.COMMAND, apply.COMMAND, create.COMMAND, replace.COMMAND, delete.COMMAND,
        label.LABEL, label.ANNOTATE, scale.COMMAND, logs.COMMAND, *config.COMMANDS, version.COMMAND,
        api_resources.API_RESOURCES, api_resources.API_VERSIONS, cluster_info.COMMAND, *rollout.COMMANDS,
        set_image.COMMAND, taint.COMMAND, cordon.CORDON, cordon.UNCORDON, cordon.DRAIN, exec.COMMAND,
        run.COMMAND,
    )
}

# Commands that only group subcommands (`minictl config view`, `minictl rollout status`, ...).
GROUPS = frozenset(name.split(" ", 1)[0] for name in COMMANDS if " " in name)
