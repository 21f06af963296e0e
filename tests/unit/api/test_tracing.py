"""The handlers' tracer follows Powertools' rule for when tracing is off, and then costs nothing."""

import aws_lambda_powertools
import pytest

from functions.tracing import Untraced, handler_tracer, tracing_disabled


class PowertoolsTracer:
    """Stands for `aws_lambda_powertools.Tracer`."""


@pytest.mark.parametrize(
    ("env", "disabled"),
    [
        ({"POWERTOOLS_TRACE_DISABLED": "true", "LAMBDA_TASK_ROOT": "/var/task"}, True),
        ({"POWERTOOLS_TRACE_DISABLED": "1", "LAMBDA_TASK_ROOT": "/var/task"}, True),
        ({}, True),  # outside Lambda: no X-Ray daemon to send to
        ({"LAMBDA_TASK_ROOT": "/var/task", "AWS_SAM_LOCAL": "true"}, True),
        ({"LAMBDA_TASK_ROOT": "/var/task"}, False),
        ({"POWERTOOLS_TRACE_DISABLED": "false", "LAMBDA_TASK_ROOT": "/var/task"}, False),
    ],
)
def test_tracing_is_off_exactly_when_powertools_would_disable_it(monkeypatch, env, disabled):
    for name in ("POWERTOOLS_TRACE_DISABLED", "LAMBDA_TASK_ROOT", "AWS_SAM_LOCAL", "AWS_CHALICE_CLI_MODE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # A real enabled Tracer would patch botocore and httplib for the whole test process: a stand-in says which one.
    monkeypatch.setattr(aws_lambda_powertools, "Tracer", PowertoolsTracer)
    assert tracing_disabled() is disabled
    assert isinstance(handler_tracer(), Untraced if disabled else PowertoolsTracer)


def test_untraced_decorators_return_the_function_itself():
    def handler(event, context):
        return event

    untraced = Untraced()
    assert untraced.capture_lambda_handler(handler) is handler
    assert untraced.capture_lambda_handler(capture_response=False)(handler) is handler
    assert untraced.capture_method(handler) is handler
    assert untraced.capture_method(capture_response=False)(handler) is handler
