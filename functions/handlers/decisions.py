"""Lambda entry point of the decisions function (container image: it needs the model libraries)."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.api.app import build_app, json_bodies_only, limit_body_size
from functions.api.routes import decisions
from functions.tracing import handler_tracer

logger = Logger()
tracer = handler_tracer()
metrics = Metrics()
app = build_app(decisions.router)


@limit_body_size
@json_bodies_only
@logger.inject_lambda_context(log_event=False)  # events carry customer messages: never log them
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
