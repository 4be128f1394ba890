"""bench/run.py never invents a figure: an absent module is 'not built yet', ratios come from same-run floors."""

from __future__ import annotations

from pathlib import Path

from bench import run
from bench.common import median, percentile


def test_absent_bench_module_prints_not_built_yet(tmp_path):
    table = run.Table()
    report: dict = {"modules": {}, "figures": {}}
    run.run_external("no_such_bench_module", "nowhere", "a screen nobody wrote", Path(tmp_path / "x.db"), table,
                     report, True, 10)
    (row,) = table.rows
    assert "not built yet" in row["figure"]
    assert row["value"] is None and row["ratio"] is None
    assert "not built yet" in table.render() and report["modules"] == {}


def test_ratio_is_figure_over_floor_and_throughput_says_higher_is_better():
    table = run.Table()
    table.add("a", "latency", 30.0, "ms", 10.0, "floor")
    table.add("b", "throughput", 50.0, "/s", 200.0, "1 process", lower_is_better=False)
    table.add("c", "no floor", 5.0, "s")
    assert [r["ratio"] for r in table.rows] == [3.0, 0.25, None]
    assert table.rows[1]["note"] == "higher is better"
    assert "3.00x" in table.render()


def test_median_and_percentiles():
    data = [5, 1, 4, 2, 3]
    assert median(data) == 3 and median([1, 2, 3, 4]) == 2.5
    assert percentile(data, 50) == 3 and percentile(data, 95) == 5 and percentile(range(1, 101), 95) == 95


def test_owner_figures_of_every_shape_pair_with_their_floors():
    rows = run.external_figures({
        "f4_warm_ms": 448.0, "floor_f4_warm_ms": 412.0, "f4_warm_over_floor": 1.09, "charges": 1000,
        "scroll_echo_ms_p95": 30.0, "floor_scroll_echo_ms_p95": 20.0, "queue_open_ratio_to_floor": 2.0,
        "daysheet": {"median_s": 0.5, "floor_s": 0.1, "ratio": 5.0, "target_s": 2},
        "calls_per_s": 300.0, "db": "/x.db", "echo_p95_ms": 9.0, "bare_echo_p95_ms": 3.0,
    })
    assert rows == [("f4 warm", 448.0, "ms", 412.0), ("scroll echo p95", 30.0, "ms", 20.0),
                    ("daysheet", 0.5, "s", 0.1), ("calls", 300.0, "/s", None),
                    ("echo p95", 9.0, "ms", 3.0)]
