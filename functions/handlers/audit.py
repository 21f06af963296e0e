"""Lambda entry point of the audit function (small zip: no shap, numpy or model libraries)."""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.api.app import build_app, limit_body_size
from functions.api.routes import audit, monitoring, report_page
from functions.tracing import handler_tracer

logger = Logger()
tracer = handler_tracer()
app = build_app(audit.router, report_page.router, monitoring.router)


@limit_body_size
@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)  # responses carry records: keep them out of traces
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
