"""infra/artifacts/dockerfile.py: how a Dockerfile is read into the steps that make the image's files."""

import re
from pathlib import Path

import pytest

from infra.artifacts import dockerfile as docker

REPO = Path(__file__).resolve().parents[2]

# The decisions image as it was on Lambda's python:3.11 image (Amazon Linux 2).
ON_AL2 = """\
FROM public.ecr.aws/lambda/python:3.11
RUN yum install -y libgomp && yum clean all && rm -rf /var/cache/yum
COPY requirements/runtime.lock /tmp/runtime.lock
RUN pip install --no-cache-dir --require-hashes -r /tmp/runtime.lock && rm /tmp/runtime.lock
COPY functions/ ${LAMBDA_TASK_ROOT}/functions/
RUN python -m compileall -q ${LAMBDA_TASK_ROOT}
CMD ["functions.handlers.decisions.lambda_handler"]
"""


def plan_of(text: str, tmp_path: Path) -> docker.ImagePlan:
    path = tmp_path / "Dockerfile"
    path.write_text(text)
    return docker.plan(path)


def actions(plan: docker.ImagePlan, kind: type) -> list:
    return [action for step in plan.steps for action in step.actions if isinstance(action, kind)]


@pytest.mark.parametrize(
    ("dockerfile", "lock"),
    [
        ("decisions.Dockerfile", "/tmp/black-box.lock"),  # the black-box image: the `black-box` extra (shap)
        ("decisions-exact.Dockerfile", "/tmp/runtime.lock"),  # the exact image: no extra
    ],
)
def test_the_decisions_images_install_their_locks_beside_the_code_and_start_awslambdaric(dockerfile, lock):
    plan = docker.plan(REPO / "infra" / dockerfile)
    assert plan.base.glibc >= (2, 28)  # the locked numpy, scipy and LightGBM wheels need it
    assert plan.python == "3.11"
    [pip] = actions(plan, docker.PipInstall)
    assert pip.target == plan.workdir == "/var/task"
    assert pip.requirement_files == (lock, "/tmp/image.lock")
    assert "--only-binary=:all:" in pip.flags
    copied = {c.destination for c in actions(plan, docker.Copy)}
    assert {"/var/task/functions/", "/var/task/explainers/", "/var/task/models/"} <= copied
    assert plan.entrypoint_module == "awslambdaric"
    assert plan.cmd == ("functions.handlers.decisions.lambda_handler",)


def test_lambdas_python_3_11_image_offers_pip_only_glibc_2_26_wheels(tmp_path: Path):
    plan = plan_of(ON_AL2, tmp_path)
    [pip] = actions(plan, docker.PipInstall)
    assert pip.target == "/var/lang/lib/python3.11/site-packages"  # no --target: the image's site-packages
    tags = docker.glibc_platforms(plan.base.glibc, "x86_64")
    assert tags[0] == "manylinux_2_26_x86_64"
    assert "manylinux2014_x86_64" in tags
    assert not [t for t in tags if re.match(r"manylinux_2_(2[7-9]|3\d)_", t)]


def test_glibc_platforms_go_down_to_manylinux1_and_plain_linux():
    tags = docker.glibc_platforms((2, 34), "arm64")
    assert tags[0] == "manylinux_2_34_aarch64"
    assert tags[-4:] == ["manylinux2014_aarch64", "manylinux2010_aarch64", "manylinux1_aarch64", "linux_aarch64"]


@pytest.mark.parametrize(
    "line",
    [
        "RUN curl -o /tmp/x https://example.com/x",
        "RUN pip download numpy",
        "ADD app.tar.gz /var/task/",
        "COPY --from=build /out /var/task/",
        "USER nobody",
    ],
)
def test_what_is_not_emulated_stops_the_build(tmp_path: Path, line: str):
    with pytest.raises(docker.UnsupportedDockerfile):
        plan_of(f"FROM public.ecr.aws/lambda/provided:al2023\n{line}\n", tmp_path)


def test_an_unknown_base_image_stops_the_build(tmp_path: Path):
    with pytest.raises(docker.UnsupportedDockerfile, match="BASE_IMAGES"):
        plan_of("FROM debian:bookworm\n", tmp_path)


def test_continuation_lines_and_comments_inside_them(tmp_path: Path):
    plan = plan_of(
        "FROM public.ecr.aws/lambda/provided:al2023\n"
        "RUN dnf install -y python3.11 python3.11-pip \\\n"
        "    # the OpenMP runtime\n"
        "    libgomp && dnf clean all\n",
        tmp_path,
    )
    [packages] = actions(plan, docker.SystemPackages)
    assert packages.packages == ("python3.11", "python3.11-pip", "libgomp")
    assert plan.python == "3.11"


def test_dockerignore_patterns(tmp_path: Path):
    (tmp_path / ".dockerignore").write_text(".venv\n**/__pycache__\n*.egg-info\n!keep.egg-info\n")
    rules = docker.dockerignore(tmp_path)
    assert docker.ignored(".venv/lib/x.py", rules)
    assert docker.ignored("functions/api/__pycache__/app.cpython-311.pyc", rules)
    assert docker.ignored("__pycache__/x.pyc", rules)
    assert docker.ignored("candor.egg-info/PKG-INFO", rules)
    assert not docker.ignored("keep.egg-info/PKG-INFO", rules)
    assert not docker.ignored("functions/api/app.py", rules)


def test_copy_follows_dockerignore_and_never_writes_into_an_existing_file(tmp_path: Path):
    context, root = tmp_path / "context", tmp_path / "root"
    (context / "functions" / "__pycache__").mkdir(parents=True)
    (context / "functions" / "a.py").write_text("new")
    (context / "functions" / "__pycache__" / "a.pyc").write_text("cache")
    (context / ".dockerignore").write_text("**/__pycache__\n")
    existing = root / "var" / "task" / "functions" / "a.py"
    existing.parent.mkdir(parents=True)
    existing.write_text("old")
    layer_copy = tmp_path / "layer-a.py"
    layer_copy.hardlink_to(existing)  # as a cached layer shares it
    docker.copy_into(root, context, docker.Copy(("functions/",), "/var/task/functions/"))
    assert existing.read_text() == "new"
    assert layer_copy.read_text() == "old"
    assert not (root / "var" / "task" / "functions" / "__pycache__").exists()


def test_only_the_black_box_lock_pins_shaps_stack():
    from infra.artifacts.distributions import locked_names

    stack = {"shap", "numba", "llvmlite", "pandas", "scikit-learn"}
    assert stack <= locked_names(REPO / "requirements" / "black-box.lock")
    assert not stack & locked_names(REPO / "requirements" / "runtime.lock")
    assert {"lightgbm", "numpy", "scipy"} <= locked_names(REPO / "requirements" / "runtime.lock")
