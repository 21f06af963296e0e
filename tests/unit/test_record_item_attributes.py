"""The index item's attribute values, written without boto3's generic serializer, are exactly what it writes."""

from decimal import Decimal

import pytest
from boto3.dynamodb.types import TypeSerializer
from hypothesis import given
from hypothesis import strategies as st

from functions.domain.seal import seal
from functions.stores.record_store import index_item, item_attributes
from tests.unit.domain.records import sample_envelope, sample_personal

_boto3 = TypeSerializer()
_scalars = (
    st.text(max_size=20)
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False).map(lambda x: Decimal(repr(x)))
)
_values = st.recursive(_scalars, lambda inner: st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=12)


def test_a_real_index_item_is_serialised_as_boto3_does():
    personal = sample_personal()
    item = index_item(seal(sample_envelope(personal), personal), "records/k.json", shards=16)
    assert item_attributes(item) == {name: _boto3.serialize(value) for name, value in item.items()}


@given(st.dictionaries(st.text(min_size=1, max_size=8), _values | st.none() | st.lists(st.integers(), max_size=3)))
def test_any_item_is_serialised_as_boto3_does(item):
    try:
        expected = {name: _boto3.serialize(value) for name, value in item.items()}
    except Exception as refused:  # a number DynamoDB cannot store (1e-300): refused the same way
        with pytest.raises(type(refused)):
            item_attributes(item)
    else:
        assert item_attributes(item) == expected


@pytest.mark.parametrize("number", [Decimal("NaN"), Decimal("Infinity"), Decimal("1" * 40)])
def test_numbers_dynamodb_cannot_store_are_refused_like_boto3_does(number):
    with pytest.raises((TypeError, ArithmeticError)) as ours:
        item_attributes({"n": number})
    with pytest.raises((TypeError, ArithmeticError)) as theirs:
        _boto3.serialize(number)
    assert type(ours.value) is type(theirs.value)
