"""Lambda entry point of the integrity job (EventBridge schedule; small zip: no shap, numpy or model libraries).

Each run digests every closed window not digested yet and extends the Object Lock of records
kept longer than the archive's default retention.
"""

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from functions.integrity_service import integrity_service
from functions.tracing import handler_tracer

logger = Logger()
tracer = handler_tracer()


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler(capture_response=False)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return integrity_service().write_due().model_dump(mode="json")
