"""The CNI contract's inputs and outputs that need no kernel: config, env, VERSION, error JSON."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from minik.cni.config import SUPPORTED_VERSIONS, parse_env, parse_netconf
from minik.cni.errors import CNIError
from minik.cni.network import CNINetwork, build_conf
from minik.cni.plugin import main, run
from minik.runtime.state import CRIError

ENV = {"CNI_COMMAND": "ADD", "CNI_CONTAINERID": "abc", "CNI_NETNS": "/proc/1/ns/net", "CNI_IFNAME": "eth0",
       "CNI_PATH": "/usr/bin"}


def conf(**changes: object) -> bytes:
    base = build_conf("10.244.1.0/24", data_dir=Path("/nonexistent-minik-test"))
    base.update(changes)
    return json.dumps(base).encode()


def test_build_conf_defaults_follow_the_design() -> None:
    c = parse_netconf(conf())
    assert (c.name, c.bridge, c.mtu, c.hairpin_mode, c.ip_masq) == ("minik", "minik0", 1500, True, True)
    assert str(c.gateway_interface) == "10.244.1.1/24"
    assert (str(c.ipam.range_start), str(c.ipam.range_end)) == ("10.244.1.1", "10.244.1.254")
    assert str(c.cluster_cidr) == "10.244.0.0/16"


@pytest.mark.parametrize(("data", "code", "words"), [
    (b"{not json", 6, "decode"),
    (conf(cniVersion="2.0.0"), 1, "incompatible"),
    (conf(bridge="a-name-longer-than-15"), 7, "bridge"),
    (conf(mtu=10), 7, "mtu"),
    (conf(type="bridge"), 7, "type"),
    (conf(ipam={"subnet": "10.244.1.0/33"}), 7, "subnet"),
    (conf(ipam={"subnet": "10.244.1.0/24", "gateway": "10.0.0.1"}), 7, "gateway"),
    (conf(ipam={"subnet": "10.244.1.0/24", "rangeStart": "10.244.1.9", "rangeEnd": "10.244.1.3"}), 7, "empty"),
    (conf(ipam={"type": "dhcp", "subnet": "10.244.1.0/24"}), 7, "ipam type"),
])
def test_bad_config_is_a_clear_cni_error(data: bytes, code: int, words: str) -> None:
    with pytest.raises(CNIError) as error:
        parse_netconf(data)
    assert error.value.code == code and words in str(error.value).lower()


def test_env_needs_what_the_command_needs() -> None:
    assert parse_env({**ENV, "CNI_ARGS": "K8S_POD_NAME=web;IgnoreUnknown=1"}).args == {
        "K8S_POD_NAME": "web", "IgnoreUnknown": "1"}
    assert parse_env({**ENV, "CNI_COMMAND": "DEL", "CNI_NETNS": ""}).netns == ""  # DEL may come without netns
    for missing in ("CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH", "CNI_NETNS"):
        with pytest.raises(CNIError) as error:
            parse_env({k: v for k, v in ENV.items() if k != missing})
        assert error.value.code == 4 and missing in error.value.details
    for key, bad in (("CNI_COMMAND", "FROB"), ("CNI_IFNAME", "a/b"), ("CNI_CONTAINERID", "../x"),
                     ("CNI_ARGS", "novalue")):
        with pytest.raises(CNIError) as error:
            parse_env({**ENV, key: bad})
        assert error.value.code == 4


def test_version_command() -> None:
    code, result = run({"CNI_COMMAND": "VERSION"}, b'{"cniVersion": "0.4.0"}')
    assert code == 0 and result == {"cniVersion": "0.4.0", "supportedVersions": list(SUPPORTED_VERSIONS)}


def test_errors_are_printed_as_cni_json_with_exit_status_1() -> None:
    out = io.StringIO()
    status = main({**ENV, "CNI_COMMAND": "ADD", "CNI_NETNS": ""}, io.BytesIO(conf()), out)
    assert status == 1
    assert json.loads(out.getvalue()) == {"cniVersion": "1.1.0", "code": 4,
                                          "msg": "required environment variables missing", "details": "CNI_NETNS"}


def test_gc_and_status_need_spec_1_1() -> None:
    code, result = run({**ENV, "CNI_COMMAND": "GC"}, conf(cniVersion="1.0.0"))
    assert code == 1 and result is not None and result["code"] == 1


def test_status_reports_a_full_range(tmp_path: Path) -> None:
    data = json.dumps(build_conf("10.244.9.0/30", data_dir=tmp_path)).encode()
    assert run({"CNI_COMMAND": "STATUS"}, data) == (0, None)
    (tmp_path / "minik" / "10.244.9.2").write_text("c\neth0\n")
    code, result = run({"CNI_COMMAND": "STATUS"}, data)
    assert code == 1 and result is not None and result["code"] == 50


def test_network_without_config_file_is_not_ready(tmp_path: Path) -> None:
    network = CNINetwork(conf_file=tmp_path / "minik.conf")
    with pytest.raises(CRIError, match="network not ready"):
        network.setup("abc", "/proc/self/ns/net", {})
    (tmp_path / "minik.conf").write_text("[]")
    with pytest.raises(CRIError, match="not a JSON object"):
        network.setup("abc", "/proc/self/ns/net", {})
