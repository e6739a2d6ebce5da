"""docker-compose.yml, the Dockerfile and deploy/, checked without a Docker engine.

`docker-compose config` (Debian's 1.29) validates the file and resolves anchors and variables the way
`up` reads it, so a misspelt key, a broken anchor or a flag a component does not accept fails here
instead of on a user's machine after the image build. The credentials script runs for real.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from cryptography import x509

from minik.client import kubeconfig
from minik.cluster.tokens import parse_tokens

REPO = Path(__file__).resolve().parents[2]
IMAGE_SRC = "/opt/minik/src/"  # where the Dockerfile copies the repository
CONTROL_PLANE = {"etcd", "registry", "certs", "apiserver", "scheduler", "controller-manager", "dns"}
NODES = {"node1": "worker1", "node2": "worker2"}
NODE_COMPONENTS = ["runtime", "network-agent", "kubelet", "proxy"]  # the order node.sh starts them
FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")


# ---------------------------------------------------------------- helpers


@functools.cache
def compose_config() -> dict[str, Any]:
    """The resolved file, with the defaults of its variables (a developer's MINIK_* are ignored)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MINIK_")}
    result = subprocess.run(
        ["docker-compose", "-f", "docker-compose.yml", "config"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, f"docker-compose config failed:\n{result.stderr}"
    config = yaml.safe_load(result.stdout)
    assert isinstance(config, dict)
    return config


@functools.cache
def accepted_flags(argv: tuple[str, ...]) -> frozenset[str]:
    """Long options listed by `<argv> --help` (argparse indents option lines by exactly two spaces)."""
    result = subprocess.run([*argv, "--help"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"{' '.join(argv)} --help failed:\n{result.stderr}"
    flags = set()
    for line in result.stdout.splitlines():
        if line.startswith("  -"):
            names = re.split(r"\s{2,}", line.strip())[0]
            flags.update(part.split()[0] for part in names.split(", ") if part.startswith("--"))
    assert flags, f"no options parsed from {' '.join(argv)} --help"
    return frozenset(flags)


def component_flags(component: str) -> frozenset[str]:
    return accepted_flags((sys.executable, "-m", "minik", component))


def used_flags(args: list[str]) -> list[str]:
    """`--flag` and `--flag=value` names; values (URLs, paths) are not flags."""
    return [arg.split("=", 1)[0] for arg in args if FLAG.fullmatch(arg.split("=", 1)[0])]


def node_script_commands() -> list[tuple[str, list[str]]]:
    """(component, flags) of each `minik <component> ...` command in deploy/node.sh, in file order."""
    text = (REPO / "deploy" / "node.sh").read_text().replace("\\\n", " ")
    commands = []
    for line in text.splitlines():
        match = re.match(r"\s*minik\s+([a-z-]+)(.*)", line)
        if match:
            commands.append((match.group(1), FLAG.findall(match.group(2))))
    return commands


def load_certs_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("minik_deploy_certs", REPO / "deploy" / "certs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def published_ports(service: dict[str, Any]) -> set[int]:
    """Host ports, from either the long (`published:`) or the short (`[ip:]host:container`) syntax."""
    ports = set()
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            ports.add(int(entry["published"]))
        else:
            parts = str(entry).split("/")[0].split(":")
            if len(parts) >= 2:
                ports.add(int(parts[-2]))
    return ports


# ---------------------------------------------------------------- docker-compose.yml


@pytest.mark.compose
def test_compose_file_has_the_control_plane_and_two_nodes() -> None:
    services = compose_config()["services"]
    assert CONTROL_PLANE | set(NODES) <= set(services)


@pytest.mark.compose
def test_node_containers_are_privileged_workers_running_node_sh() -> None:
    services = compose_config()["services"]
    for service, hostname in NODES.items():
        node = services[service]
        assert node.get("privileged") is True, f"{service} must be privileged"
        assert node.get("hostname") == hostname
        assert node["environment"]["NODE_NAME"] == hostname
        assert node["entrypoint"][-1] == f"{IMAGE_SRC}deploy/node.sh"
        assert any(v.endswith(":/var/lib/minik:rw") for v in node["volumes"]), "runtime state must be a volume"


@pytest.mark.compose
def test_apiserver_publishes_6443() -> None:
    assert 6443 in published_ports(compose_config()["services"]["apiserver"])


@pytest.mark.compose
def test_every_minik_command_uses_only_flags_the_component_accepts() -> None:
    commands = [(name, svc["command"]) for name, svc in compose_config()["services"].items()
                if svc.get("entrypoint") == ["minik"]]  # fmt: skip
    assert {name for name, _ in commands} >= {"apiserver", "scheduler", "controller-manager", "dns"}
    for service, command in commands:
        component, args = command[0], command[1:]
        unknown = set(used_flags(args)) - component_flags(component)
        assert not unknown, f"service {service}: minik {component} does not accept {sorted(unknown)}"
    for component, flags in node_script_commands():
        unknown = set(flags) - component_flags(component)
        assert not unknown, f"deploy/node.sh: minik {component} does not accept {sorted(unknown)}"


@pytest.mark.compose
def test_certs_service_uses_only_flags_the_script_accepts() -> None:
    certs = compose_config()["services"]["certs"]
    script = certs["entrypoint"][-1]
    assert script == f"{IMAGE_SRC}deploy/certs.py"
    allowed = accepted_flags((sys.executable, str(REPO / "deploy" / "certs.py")))
    assert set(used_flags(certs["command"])) <= allowed
    assert "--san=apiserver" in certs["command"]
    assert {f"--node={node}" for node in NODES.values()} <= set(certs["command"])


@pytest.mark.compose
def test_files_the_services_run_from_the_image_exist_in_the_repo() -> None:
    text = yaml.safe_dump(compose_config())
    paths = set(re.findall(re.escape(IMAGE_SRC) + r"[\w./-]+", text))
    assert paths, "expected the services to run files from the repository"
    for path in paths:
        assert (REPO / path.removeprefix(IMAGE_SRC)).is_file(), f"{path} is not in the repository"


# ---------------------------------------------------------------- deploy/ and Dockerfile


def test_node_script_starts_the_node_components_in_order() -> None:
    assert [component for component, _ in node_script_commands()] == NODE_COMPONENTS


def test_dockerfile_installs_the_makefile_packages() -> None:
    """The image must run what `make deps` installs; docker-compose itself is only a test tool."""
    makefile = (REPO / "Makefile").read_text()
    packages = re.search(r"^APT_PACKAGES := (.*)$", makefile, re.M)
    assert packages is not None
    wanted = set(packages.group(1).split())
    assert "docker-compose" in wanted
    dockerfile = (REPO / "Dockerfile").read_text().replace("\\\n", " ")
    install = re.search(r"apt-get install (.*?)(&&|$)", dockerfile, re.M)
    assert install is not None
    installed = set(install.group(1).split())
    assert (wanted - {"docker-compose"}) | {"python3-venv"} <= installed
    assert re.search(r'^ENTRYPOINT \["minik"\]', dockerfile, re.M)


def test_certs_script_writes_credentials_for_the_apiserver_and_each_node(tmp_path: Path) -> None:
    certs = load_certs_script()
    argv = ["--dir", str(tmp_path), "--server", "https://apiserver:6443", "--local-server",
            "https://127.0.0.1:6443", "--san", "apiserver", "--san", "172.28.213.10",
            "--node", "worker1", "--node", "worker2"]  # fmt: skip
    assert certs.main(argv) == 0

    cert = x509.load_pem_x509_certificate((tmp_path / "pki" / "apiserver.crt").read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "apiserver" in sans.get_values_for_type(x509.DNSName)
    assert "172.28.213.10" in {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}

    rows = {row.user: row for row in parse_tokens((tmp_path / "tokens.csv").read_text())}
    for node in ("worker1", "worker2"):
        row = rows[f"system:node:{node}"]
        assert row.groups == ("system:nodes",)
        config = kubeconfig.load(tmp_path / f"{node}.kubeconfig")
        assert (config.server, config.token) == ("https://apiserver:6443", row.token)
        assert config.ca_data == (tmp_path / "pki" / "ca.crt").read_bytes()
    admin = kubeconfig.load(tmp_path / "admin.kubeconfig")
    assert admin.server == "https://apiserver:6443"
    assert "system:masters" in rows["system:admin"].groups and admin.token == rows["system:admin"].token
    assert kubeconfig.load(tmp_path / "admin-local.kubeconfig").server == "https://127.0.0.1:6443"

    # `docker compose up` runs it again every time: the CA and every token must survive.
    ca = (tmp_path / "pki" / "ca.crt").read_bytes()
    tokens = (tmp_path / "tokens.csv").read_text()
    assert certs.main(argv) == 0
    assert (tmp_path / "pki" / "ca.crt").read_bytes() == ca
    assert (tmp_path / "tokens.csv").read_text() == tokens
