"""Lambda's event filtering (an event source mapping's `FilterCriteria`), for the local stack's pollers.

As the Lambda Developer Guide ("Control which events Lambda sends to your function") describes:
a mapping has a list of filters, each a JSON pattern; a record reaches the function when it
matches ANY of them, and one that matches none is dropped before the invocation (it counts as
processed: a stream moves past it, a queue deletes it). Within a pattern every key must match
(AND); a key's value is either a nested pattern or a list of rules, any of which may match (OR).
A rule is one of:

- an exact value: a string, a number (compared by its JSON text, as Lambda does: 300 and 300.0
  differ), true/false, or null (the field is present and null; "" is the empty string);
- `{"prefix": "us-"}`, `{"suffix": ".png"}`, `{"equals-ignore-case": "alice"}` (strings only);
- `{"exists": true}` / `{"exists": false}`: a leaf value is there / is not (a missing parent counts
  as not there; an object is not a leaf);
- `{"anything-but": value | [values] | {"prefix"|"suffix"|"equals-ignore-case": ...}}`: a leaf
  value is there that is none of them;
- `{"numeric": ["=", 100]}`, `{"numeric": [">", 10, "<=", 20]}`: JSON numbers only (DynamoDB's
  `{"N": "5"}` is a string, so numeric rules never match it, in AWS either), compared to six
  decimal places as EventBridge patterns are.

`"$or": [pattern, pattern, ...]` matches when any of its patterns does. Where the record holds a
list, a rule matches if it matches any element. A pattern Lambda would refuse (not JSON, a leaf
that is not a list of rules, an unknown operator) raises `InvalidPattern` when the mapping is read,
as creating the mapping fails in AWS.

Why not moto's EventBridge engine (`moto.events.models.EventPattern`, already installed): on the
guide's own examples it differs from Lambda in ten cases of tests/unit/test_event_filters.py
(300 matches 300.0, true matches 1, numeric rules match booleans, and none of the refused patterns
is refused), and the local stack is meant to behave as AWS does, not as moto does.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

_ABSENT = object()
_NUMERIC_OPERATORS = {
    "=": lambda a, b: a == b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}
_STRING_OPERATORS = ("prefix", "suffix", "equals-ignore-case")


class InvalidPattern(ValueError):
    """A filter pattern Lambda would refuse (its InvalidParameterValueException)."""


class EventFilter:
    """A mapping's FilterCriteria, validated once; `matches(record)` tells whether Lambda would deliver it."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns: tuple[dict[str, Any], ...] = tuple(parse_pattern(p) for p in patterns)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def matches(self, record: Mapping[str, Any]) -> bool:
        """No filters: every record; otherwise the records that match at least one pattern."""
        return not self.patterns or any(matches(pattern, record) for pattern in self.patterns)


def parse_pattern(text: str) -> dict[str, Any]:
    """One filter's `Pattern`: a JSON object of nested patterns and rule lists (InvalidPattern otherwise)."""
    if not isinstance(text, str):
        raise InvalidPattern(f"a filter's Pattern must be a JSON string, not {type(text).__name__}")
    try:
        pattern = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidPattern(f"a filter's Pattern is not JSON: {error}") from error
    _validate_object(pattern, "pattern")
    return dict(pattern)


def matches(pattern: Mapping[str, Any], event: Any) -> bool:
    """Whether `event` (a record as the function would receive it) matches one parsed pattern."""
    for key, expected in pattern.items():
        if key == "$or":
            if not any(matches(alternative, event) for alternative in expected):
                return False
            continue
        value = event.get(key, _ABSENT) if isinstance(event, Mapping) else _ABSENT
        if isinstance(expected, Mapping):
            if not _nested_matches(expected, value):
                return False
        elif not any(_rule_matches(rule, value) for rule in expected):
            return False
    return True


def _nested_matches(pattern: Mapping[str, Any], value: Any) -> bool:
    """A nested pattern against an object, or against each object of a list; absent: only `exists: false` rules."""
    candidates = value if isinstance(value, list) else [value]
    return any(matches(pattern, candidate if isinstance(candidate, Mapping) else {}) for candidate in candidates)


def _leaves(value: Any) -> list[Any]:
    """The leaf values at a field: none when absent or an object, each element's when a list."""
    if value is _ABSENT or isinstance(value, Mapping):
        return []
    if isinstance(value, list):
        return [v for v in value if not isinstance(v, Mapping | list)]
    return [value]


def _rule_matches(rule: Any, value: Any) -> bool:
    leaves = _leaves(value)
    if not isinstance(rule, Mapping):
        return any(_same(rule, leaf) for leaf in leaves)
    ((operator, operand),) = rule.items()
    if operator == "exists":
        return bool(leaves) is operand
    if operator == "anything-but":
        return any(not _excluded(operand, leaf) for leaf in leaves)  # so never when there is no value
    if operator == "numeric":
        return any(_numeric(operand, leaf) for leaf in leaves)
    return any(_string_rule(operator, operand, leaf) for leaf in leaves)


def _same(expected: Any, leaf: Any) -> bool:
    """Exact match by JSON text: types must agree ("5" is not 5, true is not 1), numbers by their representation."""
    return json.dumps(expected) == json.dumps(leaf)


def _excluded(operand: Any, leaf: Any) -> bool:
    if isinstance(operand, Mapping):
        ((operator, text),) = operand.items()
        return _string_rule(operator, text, leaf)
    return any(_same(v, leaf) for v in (operand if isinstance(operand, list) else [operand]))


def _string_rule(operator: str, operand: str, leaf: Any) -> bool:
    if not isinstance(leaf, str):
        return False
    if operator == "prefix":
        return leaf.startswith(operand)
    if operator == "suffix":
        return leaf.endswith(operand)
    return leaf.casefold() == operand.casefold()  # equals-ignore-case


def _numeric(operand: Sequence[Any], leaf: Any) -> bool:
    if isinstance(leaf, bool) or not isinstance(leaf, int | float):
        return False
    pairs = zip(operand[::2], operand[1::2], strict=True)
    return all(_NUMERIC_OPERATORS[op](round(leaf, 6), round(bound, 6)) for op, bound in pairs)


# ------------------------------------------------------------------------ validation


def _validate_object(pattern: Any, where: str) -> None:
    if not isinstance(pattern, dict) or not pattern:
        raise InvalidPattern(f"{where}: a pattern must be a non-empty JSON object")
    for key, value in pattern.items():
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise InvalidPattern(f"{where}.$or: a list of at least two patterns")
            for n, alternative in enumerate(value):
                _validate_object(alternative, f"{where}.$or[{n}]")
        elif isinstance(value, dict):
            _validate_object(value, f"{where}.{key}")
        elif isinstance(value, list) and value:
            for rule in value:
                _validate_rule(rule, f"{where}.{key}")
        else:
            raise InvalidPattern(f"{where}.{key}: a nested pattern or a non-empty list of rules, not {value!r}")


def _validate_rule(rule: Any, where: str) -> None:
    if rule is None or isinstance(rule, str | int | float | bool):
        return
    if not isinstance(rule, dict) or len(rule) != 1:
        raise InvalidPattern(f"{where}: a rule is a value or an object with one operator, not {rule!r}")
    ((operator, operand),) = rule.items()
    if operator == "exists":
        valid = isinstance(operand, bool)
    elif operator in _STRING_OPERATORS:
        valid = isinstance(operand, str)
    elif operator == "anything-but":
        valid = _valid_anything_but(operand)
    elif operator == "numeric":
        valid = _valid_numeric(operand)
    else:
        raise InvalidPattern(f"{where}: unknown operator {operator!r}")
    if not valid:
        raise InvalidPattern(f"{where}: invalid operand for {operator!r}: {operand!r}")


def _valid_anything_but(operand: Any) -> bool:
    if isinstance(operand, dict):
        return len(operand) == 1 and next(iter(operand)) in _STRING_OPERATORS and isinstance(_only(operand), str)
    values = operand if isinstance(operand, list) else [operand]
    return bool(values) and all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in values)


def _valid_numeric(operand: Any) -> bool:
    if not isinstance(operand, list) or len(operand) not in (2, 4):
        return False
    operators, bounds = operand[::2], operand[1::2]
    return all(op in _NUMERIC_OPERATORS for op in operators) and all(
        isinstance(b, int | float) and not isinstance(b, bool) for b in bounds
    )


def _only(mapping: Mapping[str, Any]) -> Any:
    return next(iter(mapping.values()))
