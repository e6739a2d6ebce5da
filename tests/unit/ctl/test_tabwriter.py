"""The Go tabwriter port: per-block column widths, minimum widths, last cell never padded."""

from __future__ import annotations

import io

from minik.ctl.tabwriter import TabWriter, describe_writer, kubectl_table_writer


def test_kubectl_table_padding_and_min_width() -> None:
    out = io.StringIO()
    tw = kubectl_table_writer(out)
    tw.write("NAME\tREADY\tSTATUS\tRESTARTS\tAGE\napp\t0/1\tPending\t0\t5s\n")
    tw.flush()
    assert out.getvalue() == "NAME   READY   STATUS    RESTARTS   AGE\napp    0/1     Pending   0          5s\n"
    out = io.StringIO()
    tw = kubectl_table_writer(out)
    tw.write("a\t0\tb\n")
    tw.flush()
    assert out.getvalue() == "a     0     b\n"  # minwidth 6


def test_blocks_are_aligned_separately_when_a_line_breaks_them() -> None:
    out = io.StringIO()
    tw = describe_writer(out)
    tw.write("Name:\tapp\nNamespace:\tdefault\nIPs:\n  IP:\t10.0.0.1\nQoS Class:\tBestEffort\n")
    tw.flush()
    assert out.getvalue() == ("Name:       app\nNamespace:  default\nIPs:\n  IP:       10.0.0.1\n"
                              "QoS Class:  BestEffort\n")


def test_remembered_widths_keep_watch_rows_aligned() -> None:
    out = io.StringIO()
    tw = TabWriter(out, minwidth=0, padding=2, remember_widths=True)
    tw.write("long-name\tx\n")
    tw.flush()
    tw.write("a\ty\n")
    tw.flush()
    assert out.getvalue() == "long-name  x\na          y\n"
