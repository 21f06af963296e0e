import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from functions.domain.seal import (
    archived_json,
    canonical_json,
    personal_digest,
    personal_json,
    seal,
    subject_hash,
    verify,
)
from functions.schemas.record import ExplanationRecord
from tests.unit.domain.records import sample_envelope, sample_personal


def test_canonical_json_is_sorted_compact_utf8():
    assert canonical_json({"b": 1, "a": "ñ", "c": [1.5, None]}) == '{"a":"ñ","b":1,"c":[1.5,null]}'.encode()


def test_canonical_json_refuses_nan():
    with pytest.raises(ValueError, match="not JSON compliant"):
        canonical_json({"x": float("nan")})


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_round_trip_through_canonical_json(x):
    assert canonical_json(json.loads(canonical_json({"x": x}))) == canonical_json({"x": x})


def test_sealed_record_verifies_and_any_change_is_detected():
    personal = sample_personal()
    record = seal(sample_envelope(personal), personal)
    assert verify(record)
    altered = record.model_copy(update={"envelope": record.envelope.model_copy(update={"request_id": "other"})})
    assert not verify(altered)
    other_personal = personal.model_copy(update={"segments": {"age_band": "18-34"}})
    assert not verify(record.model_copy(update={"personal": other_personal}))


def test_seal_refuses_an_envelope_that_commits_to_another_personal_part():
    personal = sample_personal()
    envelope = sample_envelope(personal)
    with pytest.raises(ValueError, match="does not commit"):
        seal(envelope, personal.model_copy(update={"salt": "00" * 16}))


def test_the_salt_hides_low_entropy_personal_data():
    a, b = sample_personal(), sample_personal()
    assert a.segments == b.segments and personal_digest(a) != personal_digest(b)


def test_subject_hash_is_keyed():
    assert subject_hash("customer-42", b"k1") == subject_hash("customer-42", b"k1")
    assert subject_hash("customer-42", b"k1") != subject_hash("customer-42", b"k2")
    assert "customer-42" not in subject_hash("customer-42", b"k1")


def test_the_stored_bytes_are_the_sealed_bytes_and_the_canonical_form_of_each_half():
    """Sealing serialises each half once; the stores write those bytes, which are exactly the canonical form."""
    personal = sample_personal()
    record = seal(sample_envelope(personal), personal)
    parsed = ExplanationRecord.model_validate(record.model_dump())  # the same record, without the sealed bytes
    for r in (record, parsed):
        assert archived_json(r) == canonical_json(r.model_dump(exclude={"personal"}))
        assert personal_json(r) == canonical_json(r.personal)
    assert canonical_json(record.envelope) in archived_json(record)


def test_a_changed_copy_of_a_sealed_record_is_serialised_again():
    personal = sample_personal()
    record = seal(sample_envelope(personal), personal)
    other = record.model_copy(update={"envelope": record.envelope.model_copy(update={"request_id": "other"})})
    assert b'"request_id":"other"' in archived_json(other)
    assert archived_json(other) == canonical_json(other.model_dump(exclude={"personal"}))


def test_an_erased_record_has_no_personal_bytes():
    personal = sample_personal()
    erased = seal(sample_envelope(personal), personal).model_copy(update={"personal": None})
    with pytest.raises(ValueError, match="erased"):
        personal_json(erased)
