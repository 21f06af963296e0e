# Image of DecisionsFunction (template.yaml): shap, numpy and LightGBM exceed the 250 MB zip limit.
# Built by `sam build` with DockerContext "." (the repository root).
FROM public.ecr.aws/lambda/python:3.11

# LightGBM's wheel links against the system OpenMP runtime, which the base image lacks.
RUN yum install -y libgomp && yum clean all && rm -rf /var/cache/yum

# Runtime dependencies of pyproject.toml (no dev extras), from the hash-pinned lock that `make lock`
# resolves from it for linux / Python 3.11; their own layer, rebuilt only when the lock changes.
COPY requirements/runtime.lock /tmp/runtime.lock
RUN pip install --no-cache-dir --require-hashes -r /tmp/runtime.lock && rm /tmp/runtime.lock

# The code itself is copied, not installed: the handler imports it from LAMBDA_TASK_ROOT.
COPY functions/ ${LAMBDA_TASK_ROOT}/functions/
COPY explainers/ ${LAMBDA_TASK_ROOT}/explainers/
COPY models/ ${LAMBDA_TASK_ROOT}/models/
# Compile once at build time rather than on every cold start.
RUN python -m compileall -q ${LAMBDA_TASK_ROOT}

CMD ["functions.handlers.decisions.lambda_handler"]
