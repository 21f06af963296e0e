"""README's "Register your own model", run as a newcomer would: each command block as written.

The blocks run in a scratch folder that holds the repository's files (links) and nothing of a
previous run, so `my-models/` is made afresh. Only the ports differ from the text: the stack gets
free ones, and the curl command is pointed at them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pytest
import requests

from tests.unit.explainers.test_tree_shap import shap_cpp_tree_shap

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SECTION = "## Register your own model"
BASH = shutil.which("bash") or "/bin/bash"
SCRATCH_SKIP = {".git", ".local-stack", "test-output", "my-models", "bench-results", ".pytest_cache"}


def walkthrough_blocks() -> list[str]:
    """The bash blocks of the README's section, dedented as the rendered page shows them."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index(SECTION) :]
    section = section[: section.index("\n## ", len(SECTION))]
    return [textwrap.dedent(block) for block in re.findall(r"^ *```bash\n(.*?)^ *```$", section, re.M | re.S)]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    for entry in REPO.iterdir():
        if entry.name not in SCRATCH_SKIP:
            (tmp_path / entry.name).symlink_to(entry)
    return tmp_path


def run(block: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [BASH, "-euo", "pipefail", "-c", block]
    done = subprocess.run(command, cwd=cwd, env=env, text=True, capture_output=True, timeout=300, check=False)
    assert done.returncode == 0, f"{block}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}"
    return done


@pytest.fixture
def serving(scratch: Path) -> Iterator[tuple[dict[str, str], list[subprocess.Popen[str]]]]:
    env = {**os.environ, "PORT": str(free_port()), "AWS_PORT": str(free_port())}
    env.pop("CANDOR_MODELS_URI", None)
    servers: list[subprocess.Popen[str]] = []
    yield env, servers
    for server in servers:
        os.killpg(server.pid, signal.SIGINT)
        server.wait(timeout=30)


def test_the_readme_walkthrough_serves_a_new_model_explained_as_shap_does(scratch, serving, monkeypatch) -> None:
    env, servers = serving
    blocks = walkthrough_blocks()
    assert [("make serve" in b, "curl" in b) for b in blocks][-2:] == [(True, False), (False, True)]
    for block in blocks[:-2]:
        printed = run(block, scratch, env)
    assert "ok" in printed.stdout  # `candor models check`

    output = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT, "text": True}
    servers.append(subprocess.Popen([BASH, "-c", blocks[-2]], cwd=scratch, env=env, start_new_session=True, **output))
    api = f"http://127.0.0.1:{env['PORT']}"
    deadline = time.monotonic() + 120
    while True:
        assert servers[0].poll() is None, servers[0].stdout.read() if servers[0].stdout else ""
        try:
            if requests.get(f"{api}/v1/health", timeout=5).ok:
                break
        except requests.RequestException:  # not listening yet, or busy importing the handlers
            pass
        assert time.monotonic() < deadline, "make serve did not come up"
        time.sleep(0.5)

    answer = json.loads(run(blocks[-1].replace("http://127.0.0.1:3000", api), scratch, env).stdout)
    explanation = answer["explanation"]
    assert answer["outcome"]["label"] in ("malignant", "benign"), answer
    assert explanation["status"] == "complete" and explanation["exact"] is True
    assert explanation["method"] == "tree_shap" and explanation["summary_locale"] == "es"

    # The bundled models are served beside it.
    models = requests.get(f"{api}/v1/models", headers={"Authorization": "Bearer local-chatbot-token"}, timeout=10)
    assert {"tumour-check", "refund-decision", "ticket-router"} <= {m["id"] for m in models.json()["models"]}

    folder = scratch / "my-models" / "tumour-check"
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    names = [feature["name"] for feature in manifest["features"]]
    inputs = json.loads(re.search(r"-d '(\{.*?\})'", blocks[-1], re.S).group(1))["inputs"]  # type: ignore[union-attr]
    row = np.array([[inputs[name] for name in names]], dtype=np.float64)
    booster = lgb.Booster(model_file=str(folder / "model.txt"))
    values, base = shap_cpp_tree_shap(booster, row, monkeypatch)
    by_feature = {c["feature"]: c["attribution"] for c in explanation["contributions"]}
    np.testing.assert_allclose([by_feature.get(name, 0.0) for name in names], values[0, :, 0], rtol=0, atol=1e-6)
    assert explanation["base_value"] == pytest.approx(float(np.ravel(base)[0]), abs=1e-6)
    margin = float(booster.predict(row, raw_score=True)[0])
    assert explanation["base_value"] + sum(by_feature.values()) == pytest.approx(margin, abs=1e-6)
