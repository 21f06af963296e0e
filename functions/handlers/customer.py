"""Lambda entry point of the customer function (small zip: no shap, numpy or model libraries)."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.api.app import build_app, limit_body_size
from functions.api.routes import customer
from functions.tracing import handler_tracer

logger = Logger()
tracer = handler_tracer()
metrics = Metrics()
app = build_app(customer.router)


@limit_body_size
@logger.inject_lambda_context(log_event=False)  # the query holds the link token, appeals hold free text
@tracer.capture_lambda_handler(capture_response=False)  # responses hold the customer's data
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
