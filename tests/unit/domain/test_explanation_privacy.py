"""Black-box token attributions: the response shows the customer's words, the record never quotes them."""

import numpy as np

from explainers import Attribution
from functions.domain.explanation import Decided, explained, recorded
from functions.domain.ports import ExplainedItem, ModelRun, Prediction
from functions.domain.presentation import span_key, span_of
from functions.schemas.manifest import ModelManifest
from functions.schemas.record import ExplainerRef
from functions.schemas.settings import BUNDLED_MODELS

MANIFEST = ModelManifest.model_validate_json((BUNDLED_MODELS / "ticket-router" / "manifest.json").read_text())
MESSAGE = "Zebulon was charged twice"


def test_span_keys_round_trip_and_leave_other_keys_alone():
    assert span_of(span_key(12, 19)) == (12, 19)
    assert span_of("charged") is None


def test_the_record_names_words_by_position_and_keeps_the_summary_general():
    probabilities = (0.1, 0.5, 0.1, 0.1, 0.1, 0.1)
    decided = Decided(MANIFEST, Prediction(probabilities, "billing", 1.5), {"text": MESSAGE}, "en", "Billing", None)
    values = np.array([0.25, 1.0, 0.5])
    items = tuple(
        ExplainedItem(span_key(start, end), 1, float(v), ((start, end),))
        for (start, end), v in zip([(0, 7), (12, 19), (20, 25)], values, strict=True)
    )
    run = ModelRun(Attribution("permutation_shap", "log_odds", -0.25, values, 1.5, exact=False), items)
    ref = ExplainerRef(method="permutation_shap", exact=False, implementation="test", background_sha256=None)

    answer = explained(decided, ref, run)
    assert [c.display_name for c in answer.contributions] == ["“charged”", "“twice”", "“Zebulon”"]
    assert "charged" in answer.summary

    stored = recorded(answer, decided)
    assert not {"Zebulon", "charged", "twice"} & set(stored.model_dump_json().replace('"', " ").split())
    assert [c.feature for c in stored.contributions] == ["span:12-19", "span:20-25", "span:0-7"]
    assert stored.summary.startswith("We routed your message to Billing.") and "listed below" in stored.summary
    assert stored.model_output == 1.5
