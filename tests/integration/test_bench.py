"""`make bench` in its quick mode, so the benchmark code cannot rot. No timing is asserted."""

import json

from bench.run import main


def test_the_benchmark_runs_and_reports_every_figure(tmp_path, capsys):
    out = tmp_path / "results.json"
    assert main(["--quick", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert set(results) == {
        "1. store calls per operation",
        "2. validation overhead",
        "3. login cost",
        "4. cold start",
        "5. scale",
        "6. deployment package",
        "run",
    }
    calls = results["1. store calls per operation"]
    # Call counts are exact, not timings: these are the design's targets.
    assert calls["protected, steady state"] == {"calls": ["GetItem"], "writes": 0}
    assert calls["protected, extends the session"] == {
        "calls": ["GetItem", "UpdateItem"],
        "writes": 1,
    }
    assert calls["targets met"] is True
    for section, ratio in [
        ("2. validation overhead", "ratio"),
        ("3. login cost", "ratio"),
        ("4. cold start", "ratio"),
        ("5. scale", "validation ratio largest/smallest"),
    ]:
        assert results[section][ratio] > 0
    assert len(results["3. login cost"]["argon2 parameter sets"]) == 3
    assert results["6. deployment package"]["files"] > 0
    assert results["run"]["quick"] is True
    printed = capsys.readouterr().out
    assert "validation overhead" in printed
    assert str(out) in printed
