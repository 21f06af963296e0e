"""The model's policies, applied after the model answered: which decisions are explained, which a person makes.

A decision left out of the explanation policy still carries its disclosure and is still
recorded, marked `not_explained` with the reason, so an auditor can count what the policy
skipped. A decision the review policy matches is referred to a person (functions/domain/referral.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import jmespath

from functions.schemas.api import DecisionRequest, FeatureValue, Outcome
from functions.schemas.manifest import ModelManifest


def reason_not_explained(
    manifest: ModelManifest, request: DecisionRequest, inputs: Mapping[str, FeatureValue], outcome: Outcome
) -> str | None:
    """None when the policy explains this decision, else why it does not."""
    policy = manifest.explanation_policy
    if policy.explain == "sampled" and policy.share is not None:  # the manifest validator pairs them
        if sampled_draw(manifest.id, request.request_id) < policy.share:
            return None
        return f"outside the sampled {policy.share:.0%} of decisions that the model's policy explains"
    if policy.explain == "rule" and policy.rule is not None:
        if _truthy(jmespath.search(policy.rule, rule_document(request, inputs, outcome))):
            return None
        return f"the model's explanation rule did not match: {policy.rule}"
    return None


def reason_referred(
    manifest: ModelManifest,
    request: DecisionRequest,
    inputs: Mapping[str, FeatureValue],
    outcome: Outcome,
    probabilities: Sequence[float],
) -> str | None:
    """None when the automated outcome is told, else why a person decides (the review policy matched)."""
    policy = manifest.review_policy
    if policy is None:
        return None
    document = rule_document(request, inputs, outcome, margin=decision_margin(manifest, probabilities))
    return policy.why if _truthy(jmespath.search(policy.rule, document)) else None


def decision_margin(manifest: ModelManifest, probabilities: Sequence[float]) -> float:
    """How far the decision was from going the other way: |P(positive) - threshold|, or the lead over the runner-up."""
    if manifest.decision_threshold is not None:
        return abs(probabilities[1] - manifest.decision_threshold)
    first, second = sorted(probabilities, reverse=True)[:2]
    return first - second


def sampled_draw(model_id: str, request_id: str) -> float:
    """A uniform draw in [0, 1) fixed by the request: a replay, or an auditor, gets the same answer."""
    digest = hashlib.sha256(f"{model_id}\x00{request_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def rule_document(
    request: DecisionRequest,
    inputs: Mapping[str, FeatureValue],
    outcome: Outcome,
    *,
    margin: float | None = None,
) -> dict[str, Any]:
    """What a rule may look at; segments and the subject id are left out: they must never steer treatment."""
    decided: dict[str, Any] = {"label": outcome.label, "score": outcome.score, "adverse": outcome.adverse}
    if margin is not None:
        decided["margin"] = margin
    return {
        "inputs": dict(inputs),
        "channel": request.channel,
        "locale": request.locale,
        "jurisdiction": request.jurisdiction,
        "outcome": decided,
    }


def _truthy(value: Any) -> bool:
    """JMESPath's truth: false, null and empty strings, lists and objects are false; 0 is true."""
    return value is not None and value is not False and value != "" and value != [] and value != {}
