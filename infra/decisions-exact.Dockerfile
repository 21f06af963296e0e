# The decisions function's image for deployments whose models are all explained exactly (tree_shap on
# LightGBM, linear_shap): numpy and LightGBM (with its scipy), without shap and its stack (numba,
# llvmlite, pandas, scikit-learn). LightGBM imports scikit-learn and pandas whenever they are installed,
# so leaving them out is what keeps `import lightgbm` small. To use it, set the DecisionsFunction's
# Metadata.Dockerfile in template.yaml to this file (docs/deploy.md); a manifest asking for
# permutation_shap or kernel_shap, or a remote model, then fails to load with a message naming the
# black-box image (infra/decisions.Dockerfile). The ExplanationWorkerFunction keeps the black-box image.
# Apart from its lock it is the same recipe as infra/decisions.Dockerfile (same base, layers, code).
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

# Runtime dependencies of pyproject.toml without extras, and awslambdaric, the runtime interface
# client that AWS's python images carry and an OS-only image must bring, from the hash-pinned locks
# `make lock` resolves for linux / Python 3.11; wheels only. Installed beside the code: the working
# directory, first on the path of `python -m awslambdaric`. Their own layer, rebuilt only when a
# lock changes.
COPY requirements/runtime.lock requirements/image.lock /tmp/
RUN python3.11 -m pip install --no-cache-dir --require-hashes --only-binary=:all: --target ${LAMBDA_TASK_ROOT} \
        -r /tmp/runtime.lock -r /tmp/image.lock \
    && rm /tmp/runtime.lock /tmp/image.lock

# The code itself is copied, not installed: the handler imports it from LAMBDA_TASK_ROOT.
COPY functions/ ${LAMBDA_TASK_ROOT}/functions/
COPY explainers/ ${LAMBDA_TASK_ROOT}/explainers/
COPY models/ ${LAMBDA_TASK_ROOT}/models/
# Compile once at build time rather than on every cold start.
RUN python3.11 -m compileall -q ${LAMBDA_TASK_ROOT}

ENTRYPOINT ["/usr/bin/python3.11", "-m", "awslambdaric"]
CMD ["functions.handlers.decisions.lambda_handler"]
