# Image of DecisionsFunction and ExplanationWorkerFunction (template.yaml): shap, numpy and LightGBM
# exceed the 250 MB zip limit. Built by `sam build` with DockerContext "." (the repository root).
# This is the black-box image: every explainer, shap's sampling ones included (remote models, deferred
# jobs). A deployment whose manifests are all exact (tree_shap, linear_shap) can build the decisions
# function from infra/decisions-exact.Dockerfile instead: no shap stack, a smaller image and a faster
# cold start (docs/deploy.md, docs/benchmarks.md).
#
# Base: Lambda's OS-only Amazon Linux 2023 image with AL2023's own Python 3.11, not
# public.ecr.aws/lambda/python:3.11. That image is Amazon Linux 2 (glibc 2.26), and the locked numpy,
# scipy, scikit-learn, numba, llvmlite and LightGBM publish Linux wheels for glibc 2.27/2.28 and
# later only: its pip falls back to their sources and fails without a compiler (numpy/numpy#29150).
# AL2023 has glibc 2.34. tests/integration/test_built_artifacts.py builds this file's tree without
# Docker (infra/artifacts) and runs both handlers from it.
FROM public.ecr.aws/lambda/provided:al2023

# Python 3.11; LightGBM's wheel links against the system OpenMP runtime (libgomp).
RUN dnf install -y python3.11 python3.11-pip libgomp && dnf clean all

WORKDIR ${LAMBDA_TASK_ROOT}

# Runtime dependencies of pyproject.toml with its black-box extra (shap) and awslambdaric, the runtime interface
# client that AWS's python images carry and an OS-only image must bring, from the hash-pinned locks
# `make lock` resolves for linux / Python 3.11; wheels only. Installed beside the code: the working
# directory, first on the path of `python -m awslambdaric`. Their own layer, rebuilt only when a
# lock changes.
COPY requirements/black-box.lock requirements/image.lock /tmp/
RUN python3.11 -m pip install --no-cache-dir --require-hashes --only-binary=:all: --target ${LAMBDA_TASK_ROOT} \
        -r /tmp/black-box.lock -r /tmp/image.lock \
    && rm /tmp/black-box.lock /tmp/image.lock

# The code itself is copied, not installed: the handler imports it from LAMBDA_TASK_ROOT.
COPY functions/ ${LAMBDA_TASK_ROOT}/functions/
COPY explainers/ ${LAMBDA_TASK_ROOT}/explainers/
COPY models/ ${LAMBDA_TASK_ROOT}/models/
# Compile once at build time rather than on every cold start.
RUN python3.11 -m compileall -q ${LAMBDA_TASK_ROOT}

ENTRYPOINT ["/usr/bin/python3.11", "-m", "awslambdaric"]
CMD ["functions.handlers.decisions.lambda_handler"]
