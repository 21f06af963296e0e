"""Lambda entry point of the privacy function: erasure requests (small zip, its own narrow role)."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.api.app import build_app, json_bodies_only, limit_body_size
from functions.api.routes import privacy
from functions.tracing import handler_tracer

logger = Logger()
tracer = handler_tracer()
app = build_app(privacy.router)


@limit_body_size
@json_bodies_only
@logger.inject_lambda_context(log_event=False)  # the path holds a subject id: never log the event
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
