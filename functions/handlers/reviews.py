"""Lambda entry point of the reviewer function (small zip: no shap, numpy or model libraries)."""

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.api.app import build_app, json_bodies_only, limit_body_size
from functions.api.routes import review_pages, reviews
from functions.tracing import handler_tracer

logger = Logger()
tracer = handler_tracer()
metrics = Metrics()  # ReviewNotificationsNotQueued (functions/api/routes/reviews.py)
app = build_app(reviews.router, review_pages.router)


@json_bodies_only
def _json_routes(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)


@limit_body_size
@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)  # responses carry records: keep them out of traces
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # The case page's form posts form-encoded bodies; every other route takes JSON only (415 otherwise).
    if event.get("resource") == review_pages.FORM_PATH and event.get("httpMethod") == "POST":
        return app.resolve(event, context)
    return _json_routes(event, context)
