"""`minik scheduler` flags: bad values get a clear error and start nothing."""

from __future__ import annotations

import logging

import pytest

from minik.scheduler.main import parse_args


def test_defaults() -> None:
    args = parse_args([])
    assert (args.percentage_of_nodes_to_score, args.pod_initial_backoff_seconds, args.pod_max_backoff_seconds) \
        == (0, 1.0, 10.0)
    assert args.log_level == logging.INFO
    assert parse_args(["--v", "4"]).log_level == logging.DEBUG
    assert parse_args(["--v", "debug"]).log_level == logging.DEBUG


@pytest.mark.parametrize(("argv", "error"), [
    (["--percentage-of-nodes-to-score", "101"], "--percentage-of-nodes-to-score must be between 0 and 100"),
    (["--pod-initial-backoff-seconds", "0"], "--pod-initial-backoff-seconds must be greater than 0"),
    (["--pod-initial-backoff-seconds", "nan"], "--pod-initial-backoff-seconds must be greater than 0"),
    (["--pod-max-backoff-seconds", "inf"], "the back-offs finite"),
    (["--pod-initial-backoff-seconds", "5", "--pod-max-backoff-seconds", "2"],
     "--pod-max-backoff-seconds must be at least --pod-initial-backoff-seconds"),
    (["--v", "loud"], "invalid verbosity 'loud'"),
])
def test_bad_flags(argv: list[str], error: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        parse_args(argv)
    assert e.value.code == 2
    assert error in capsys.readouterr().err
