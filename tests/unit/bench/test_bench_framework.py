"""The bench framework's arithmetic, workers and report shape (no servers: those are the scenarios' job)."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from bench.framework import (
    Metric,
    ScenarioResult,
    Target,
    load_scenarios,
    markdown_table,
    percentile,
    run_tasks,
    run_threads,
)


def test_percentile_interpolates_between_ranks() -> None:
    samples = [float(x) for x in range(1, 101)]  # 1..100
    assert percentile(samples, 50) == pytest.approx(50.5)
    assert percentile(samples, 99) == pytest.approx(99.01)
    assert percentile([3.0, 1.0, 2.0], 0) == 1.0
    assert percentile([3.0, 1.0, 2.0], 100) == 3.0
    assert percentile([7.0], 99) == 7.0


def test_percentile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)


def test_targets_on_value_and_on_ratio() -> None:
    assert Target("<", 50).check(49.9, None) is True
    assert Target("<", 50).check(50.0, None) is False
    assert Target(">=", 0.5, on="ratio").check(100.0, 0.5) is True
    assert Target(">=", 0.5, on="ratio").check(100.0, 0.49) is False
    assert Target(">=", 0.5, on="ratio").check(100.0, None) is None
    assert Target("<", 50).describe("ms") == "< 50 ms"
    assert Target(">=", 0.5, on="ratio").describe("ops/s") == "ratio >= 0.5"


def test_metric_json_has_exactly_the_documented_fields() -> None:
    with_target = Metric(300.0, "ops/s", 1000.0, Target(">=", 0.5, on="ratio")).to_json()
    assert with_target == {
        "value": 300.0,
        "unit": "ops/s",
        "reference": 1000.0,
        "ratio": 0.3,
        "target": "ratio >= 0.5",
        "met": False,
    }
    bare = Metric(4.2, "ms").to_json()
    assert bare == {"value": 4.2, "unit": "ms", "reference": None, "ratio": None, "target": None, "met": None}


def test_result_json_and_table_list_every_metric() -> None:
    result = ScenarioResult("demo")
    result.add("create_c8_throughput", 600.0, "ops/s", 1200.0, Target(">=", 0.5, on="ratio"))
    result.add("create_paced_p99", 70.0, "ms", None, Target("<", 50))
    doc = result.to_json({"cpus": 2})
    assert doc["scenario"] == "demo"
    assert doc["machine"] == {"cpus": 2}
    assert list(doc["metrics"]) == ["create_c8_throughput", "create_paced_p99"]
    table = markdown_table(result).splitlines()
    assert table[0] == "| metric | value | unit | reference | ratio | target | met |"
    assert table[2].startswith("| create_c8_throughput | 600 | ops/s | 1200 | 0.50 | ratio >= 0.5 | yes |")
    assert table[3] == "| create_paced_p99 | 70.0 | ms | - | - | < 50 ms | **no** |"


def test_run_threads_runs_each_operation_once_with_per_worker_state() -> None:
    seen: list[tuple[int, int]] = []
    lock = threading.Lock()
    closed: list[int] = []

    def op(worker: int, i: int) -> None:
        with lock:
            seen.append((worker, i))

    stats = run_threads(4, 50, lambda worker: worker, op, closed.append)
    assert stats.ops == 50 and len(stats.latencies) == 50
    assert sorted(i for _, i in seen) == list(range(50))
    assert {w for w, _ in seen} <= {0, 1, 2, 3}
    assert sorted(closed) == [0, 1, 2, 3]


def test_run_threads_raises_the_first_error_and_tears_down() -> None:
    closed: list[int] = []

    def op(_: int, i: int) -> None:
        if i == 3:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run_threads(2, 100, lambda worker: worker, op, closed.append)
    assert sorted(closed) == [0, 1]


def test_run_threads_reports_a_failed_setup() -> None:
    def setup(worker: int) -> int:
        if worker == 1:
            raise OSError("no connection")
        return worker

    with pytest.raises(OSError, match="no connection"):
        run_threads(3, 10, setup, lambda _, __: None)


def test_run_tasks_runs_each_operation_once_and_raises_errors() -> None:
    seen: list[int] = []

    async def op(_: int, i: int) -> None:
        await asyncio.sleep(0)
        seen.append(i)

    stats = asyncio.run(run_tasks(8, 40, op))
    assert stats.ops == 40 and sorted(seen) == list(range(40))

    async def failing(_: int, i: int) -> None:
        if i == 5:
            raise ValueError("bad op")

    with pytest.raises(ValueError, match="bad op"):
        asyncio.run(run_tasks(3, 20, failing))


def test_scenarios_register_by_module() -> None:
    assert "apiserver" in load_scenarios()


def test_a_scenario_that_cannot_run_does_not_hide_the_others(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import bench.__main__ as cli
    from bench.framework import BenchError, Options

    def broken(opts: Options) -> ScenarioResult:
        raise BenchError("another minik cluster runs on this host")

    def fine(opts: Options) -> ScenarioResult:
        result = ScenarioResult("fine")
        result.add("ops", 42.0, "ops/s")
        return result

    monkeypatch.setattr(cli, "load_scenarios", lambda: {"broken": broken, "fine": fine})
    assert cli.main(["--results-dir", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert "## fine" in out and "| ops | 42" in out
    assert "broken: another minik cluster" in err and "not run: broken" in err
    assert (tmp_path / "fine.json").exists() and not (tmp_path / "broken.json").exists()
