"""`make bench QUICK=1` inside `make test`: the bench runs end to end and writes a well-formed results file.

No timing is asserted: the machine is shared and noisy. Quick mode starts a local stack
(sockets), so it lives in the integration tier, and in its own process so that its
stack and caches never meet this process's `mock_aws`.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_bench_writes_a_well_formed_results_file(tmp_path: Path):
    out = tmp_path / "results.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CANDOR_", "POWERTOOLS_"))}
    done = subprocess.run(
        [sys.executable, "-m", "infra.bench", "--quick", "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,  # a guard against a hang, not a goal: nine figures take minutes on a loaded 2-core box
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]

    results = json.loads(out.read_text())
    assert results["schema"] == "candor.bench/1"
    assert results["quick"] is True
    assert {"date", "python", "platform", "cores"} <= set(results["machine"])
    figures = {figure["number"]: figure for figure in results["figures"]}
    assert sorted(figures) == [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert all(figure["available"] for figure in figures.values())
    for figure in figures.values():
        assert figure["title"]
        assert figure["goal"]
        assert figure["rows"]
        assert isinstance(figure["goal_met"], bool)
        for row in figure["rows"]:
            assert row["name"]
            assert row["measured"]
            assert row["unit"]
            headline = row["median"] if "median" in row else row["value"]
            assert math.isfinite(headline)
            if "median" in row:
                assert row["runs"] >= 1
                assert row["p10"] <= row["median"] <= row["p90"]
    assert out.with_suffix(".md").read_text().count("\n| **") == 9
    assert "7. Deployment size" in done.stdout
    assert figures[8]["goal_met"] is True  # the simulation, not a timing: 10,000 decisions/s fit the partitions
    assert "9. Chat-turn latency under an AWS latency model" in done.stdout
