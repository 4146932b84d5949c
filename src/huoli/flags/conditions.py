"""Targeting conditions: GrowthBook's MongoDB-style query language over user attributes.

Semantics follow GrowthBook's JS SDK (JavaScript comparison and coercion rules), so a condition means the
same thing on the server as in any GrowthBook SDK.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

_MISSING = None


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def js_str(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if _is_num(v):
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return str(v)
    if isinstance(v, list):
        return ",".join("" if x is None else js_str(x) for x in v)
    if isinstance(v, dict):
        return "[object Object]"
    return str(v)


def js_num(v: Any) -> float:
    if v is None:
        return 0.0
    if isinstance(v, bool):
        return 1.0 if v else 0.0
    if _is_num(v):
        return float(v)
    if isinstance(v, str):
        s = v.strip()
        if not s:
            return 0.0
        try:
            return float(s)
        except ValueError:
            return math.nan
    if isinstance(v, list):
        return js_num(js_str(v)) if len(v) <= 1 else math.nan
    return math.nan


def js_truthy(v: Any) -> bool:
    if v is None or v is False:
        return False
    if _is_num(v):
        return v != 0 and not (isinstance(v, float) and math.isnan(v))
    if isinstance(v, str):
        return v != ""
    return True


def _normalise(v: Any) -> Any:
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, list):
        return [_normalise(x) for x in v]
    if isinstance(v, dict):
        return {k: _normalise(x) for k, x in v.items()}
    return v


def _stringify(v: Any) -> str:
    return json.dumps(_normalise(v), separators=(",", ":"), ensure_ascii=False)


def js_strict_eq(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _is_num(a) and _is_num(b):
        return bool(a == b)
    if isinstance(a, dict | list) or isinstance(b, dict | list):
        return a is b
    return type(a) is type(b) and a == b


def _primitive(v: Any) -> Any:
    if isinstance(v, list | dict):
        return js_str(v)
    return v


def _js_compare(a: Any, b: Any, op: str) -> bool:
    """JS relational operators: two strings compare as strings, anything else as numbers (NaN → false)."""
    a, b = _primitive(a), _primitive(b)
    if isinstance(a, str) and isinstance(b, str):
        x: Any = a
        y: Any = b
    else:
        x, y = js_num(a), js_num(b)
        if math.isnan(x) or math.isnan(y):
            return False
    if op == "$lt":
        return bool(x < y)
    if op == "$lte":
        return bool(x <= y)
    if op == "$gt":
        return bool(x > y)
    return bool(x >= y)


def padded_version(value: Any) -> str:
    if _is_num(value):
        value = js_str(value)
    if not value or not isinstance(value, str):
        value = "0"
    parts = re.split(r"[-.]", re.sub(r"(^v|\+.*$)", "", value))
    if len(parts) == 3:
        parts.append("~")
    return "-".join(p.rjust(5, " ") if re.fullmatch(r"[0-9]+", p) else p for p in parts)


def get_path(obj: Any, path: str) -> Any:
    current = obj
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        else:
            return _MISSING
    return current


def _is_operator_object(obj: Any) -> bool:
    return isinstance(obj, Mapping) and len(obj) > 0 and all(str(k).startswith("$") for k in obj)


def _type_of(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, list):
        return "array"
    if isinstance(v, bool):
        return "boolean"
    if _is_num(v):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, Mapping):
        return "object"
    return "undefined"


def _fold(v: Any, insensitive: bool) -> Any:
    return v.lower() if insensitive and isinstance(v, str) else v


def _is_in(actual: Any, expected: Sequence[Any], insensitive: bool = False) -> bool:
    exp = [_fold(e, insensitive) for e in expected]

    def contains(x: Any) -> bool:
        x = _fold(x, insensitive)
        return any(js_strict_eq(x, e) for e in exp)

    if isinstance(actual, list):
        return any(contains(a) for a in actual)
    return contains(actual)


def _regex(pattern: Any, actual: Any, flags: int = 0) -> bool:
    try:
        return re.search(str(pattern), js_str(actual), flags) is not None
    except re.error:
        return False


def _elem_match(actual: Any, expected: Any, groups: Mapping[str, Any]) -> bool:
    if not isinstance(actual, list):
        return False
    if _is_operator_object(expected):
        return any(eval_condition_value(expected, a, groups) for a in actual)
    return any(eval_condition(a, expected, groups) for a in actual)


def _operator(op: str, actual: Any, expected: Any, groups: Mapping[str, Any]) -> bool:
    if op in ("$veq", "$vne", "$vgt", "$vgte", "$vlt", "$vlte"):
        a, b = padded_version(actual), padded_version(expected)
        return {
            "$veq": a == b,
            "$vne": a != b,
            "$vgt": a > b,
            "$vgte": a >= b,
            "$vlt": a < b,
            "$vlte": a <= b,
        }[op]
    if op == "$eq":
        return js_strict_eq(actual, expected)
    if op == "$ne":
        return not js_strict_eq(actual, expected)
    if op in ("$lt", "$lte", "$gt", "$gte"):
        return _js_compare(actual, expected, op)
    if op == "$exists":
        return actual is not None if expected else actual is None
    if op in ("$in", "$ini"):
        return isinstance(expected, list) and _is_in(actual, expected, op == "$ini")
    if op in ("$nin", "$nini"):
        return isinstance(expected, list) and not _is_in(actual, expected, op == "$nini")
    if op == "$inGroup":
        return _is_in(actual, groups.get(str(expected)) or [])
    if op == "$notInGroup":
        return not _is_in(actual, groups.get(str(expected)) or [])
    if op == "$not":
        return not eval_condition_value(expected, actual, groups)
    if op == "$size":
        return isinstance(actual, list) and eval_condition_value(expected, len(actual), groups)
    if op == "$elemMatch":
        return _elem_match(actual, expected, groups)
    if op in ("$all", "$alli"):
        if not isinstance(actual, list) or not isinstance(expected, list):
            return False
        insensitive = op == "$alli"
        for e in expected:
            if insensitive:
                if not any(js_strict_eq(_fold(a, True), _fold(e, True)) for a in actual):
                    return False
            elif not any(eval_condition_value(e, a, groups) for a in actual):
                return False
        return True
    if op == "$regex":
        return _regex(expected, actual)
    if op == "$regexi":
        return _regex(expected, actual, re.IGNORECASE)
    if op == "$type":
        return _type_of(actual) == expected
    return False  # unknown operators never match (GrowthBook logs and fails them)


def eval_condition_value(condition: Any, value: Any, groups: Mapping[str, Any]) -> bool:
    if isinstance(condition, str):
        return js_str(value) == condition
    if isinstance(condition, bool):
        return value is not None and js_truthy(value) == condition
    if _is_num(condition):
        return js_num(value) == condition
    if condition is None:
        return value is None
    if isinstance(condition, list) or not _is_operator_object(condition):
        return _stringify(value) == _stringify(condition)
    return all(_operator(op, value, expected, groups) for op, expected in condition.items())


def eval_condition(obj: Any, condition: Mapping[str, Any], groups: Mapping[str, Any] | None = None) -> bool:
    """True if the attributes `obj` satisfy `condition`; `groups` are saved groups for $inGroup."""
    g = groups or {}
    for key, value in condition.items():
        if key == "$or":
            if value and not any(eval_condition(obj, c, g) for c in value):
                return False
        elif key == "$nor":
            if value and any(eval_condition(obj, c, g) for c in value):
                return False
        elif key == "$and":
            if not all(eval_condition(obj, c, g) for c in value):
                return False
        elif key == "$not":
            if eval_condition(obj, value, g):
                return False
        elif not eval_condition_value(value, get_path(obj, key), g):
            return False
    return True


ConditionFn = Callable[[Mapping[str, Any], Mapping[str, Any]], bool]


def _compile_value(key: str, expected: Any) -> ConditionFn:
    """One `attribute: condition` pair as a closure; fast paths for the shapes targeting rules use most
    (string equality, $in / $nin / $eq / $ne over strings), the general evaluator for everything else."""
    dotted = "." in key

    def value_of(attrs: Mapping[str, Any]) -> Any:
        return get_path(attrs, key) if dotted else attrs.get(key)

    if type(expected) is str:

        def eq(attrs: Mapping[str, Any], groups: Mapping[str, Any]) -> bool:
            x = value_of(attrs)
            return (x == expected) if type(x) is str else js_str(x) == expected

        return eq
    if isinstance(expected, Mapping) and len(expected) == 1:
        ((op, arg),) = expected.items()
        if op in ("$in", "$nin") and isinstance(arg, list) and all(type(a) is str for a in arg):
            members = frozenset(arg)
            negate = op == "$nin"

            def member(attrs: Mapping[str, Any], groups: Mapping[str, Any]) -> bool:
                x = value_of(attrs)
                if type(x) is str:
                    return (x in members) != negate
                if isinstance(x, list):
                    return any(type(e) is str and e in members for e in x) != negate
                return negate  # no non-string value is strictly equal to a string

            return member
        if op in ("$eq", "$ne") and type(arg) is str:
            want = op == "$eq"

            def strict(attrs: Mapping[str, Any], groups: Mapping[str, Any]) -> bool:
                x = value_of(attrs)
                return (type(x) is str and x == arg) == want

            return strict

    def general(attrs: Mapping[str, Any], groups: Mapping[str, Any]) -> bool:
        return eval_condition_value(expected, value_of(attrs), groups)

    return general


def compile_condition(condition: Mapping[str, Any]) -> ConditionFn:
    """A closure equivalent to `eval_condition(attrs, condition, groups)`."""
    parts: list[ConditionFn] = []
    for key, value in condition.items():
        if str(key).startswith("$"):
            sub = {key: value}
            parts.append(lambda attrs, groups, sub=sub: eval_condition(attrs, sub, groups))  # type: ignore[misc]
        else:
            parts.append(_compile_value(key, value))
    if len(parts) == 1:
        return parts[0]
    return lambda attrs, groups: all(p(attrs, groups) for p in parts)


_COMPILED: dict[int, tuple[Mapping[str, Any], ConditionFn]] = {}


def cached_condition(condition: Mapping[str, Any]) -> ConditionFn:
    """Compiled once per condition object (feature definitions are cached, so their conditions are stable)."""
    hit = _COMPILED.get(id(condition))
    if hit is not None and hit[0] is condition:
        return hit[1]
    if len(_COMPILED) > 50_000:
        _COMPILED.clear()
    fn = compile_condition(condition)
    _COMPILED[id(condition)] = (condition, fn)
    return fn
