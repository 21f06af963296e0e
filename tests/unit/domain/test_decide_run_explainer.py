"""A run that names its own explainer (a remote model's pinned artifact, or its black-box fallback) is recorded so."""

from dataclasses import dataclass, replace

from functions.domain.decide import decide
from functions.schemas.record import ExplainerRef
from tests.unit.domain.test_decide import BASE, WEIGHTS, request, services
from tests.unit.domain.test_inputs import MANIFEST
from tests.unit.fakes import FakeCatalog, FixedRuntime, MemoryRecordStore

FALLBACK = ExplainerRef(method="permutation_shap", exact=False, implementation="shap (test)", background_sha256=None)
NOTE = "the pinned artifact's probabilities differ from the endpoint's by 0.2 (tolerance 1e-06)"


@dataclass
class FallingBack(FixedRuntime):
    def explain(self, inputs, prediction, deadline):
        return replace(super().explain(inputs, prediction, deadline), explainer=FALLBACK, note=NOTE)


def test_the_record_and_the_answer_name_the_runs_explainer_and_why():
    store = MemoryRecordStore()
    with_fallback = replace(services(store), models=FakeCatalog({"toy": FallingBack(MANIFEST, (0.3, 0.7), WEIGHTS)}))

    answer = decide("toy", request(), with_fallback, BASE)

    assert answer.explanation.status == "complete"
    assert answer.explanation.status_reason == NOTE
    assert answer.explanation.exact is False
    assert answer.explanation.method == "permutation_shap"
    (record,) = store.records
    assert record.envelope.explainer == FALLBACK
    assert record.envelope.explanation.status_reason == NOTE


def test_a_run_without_its_own_explainer_records_the_runtimes():
    store = MemoryRecordStore()
    answer = decide("toy", request(), services(store), BASE)
    assert answer.explanation.status_reason is None
    assert store.records[0].envelope.explainer.implementation == "fake"
