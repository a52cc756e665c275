"""One vocabulary for what a setting's value may be, and one type check, shared by every section of an entry.

A component declares its value rules beside its ``defaults`` (:attr:`benchmark.interfaces.Configurable.rules`),
the core declares those of the trainers, clips, preprocessing and runtime sections; all are checked when an entry
is resolved, so a bad value fails in seconds instead of mid-run.  A rule is one of:

* a tuple: the allowed values (``("drop", "keep")``); a misspelt text value gets a did-you-mean;
* a range string: ``">=0"``, ``">=1"``, ``">0"``, ``"0..1"`` (both ends included), ``"0<..<1"``, ``"0..<1"``,
  ``"0<..1"`` (``<`` beside ``..`` leaves that end out), any numbers (``"4..3600"``, ``">=2"``); prefixed by
  ``int`` the value must also be an integer (``"int>=1"``: a positive integer);
* :func:`each` ``(rule)``: a list whose every item keeps ``rule``;
* :func:`either` ``(rule, ...)``: a value keeping any of them (``either(("full", "small"), "int>=1")``);
* :func:`optional` ``(rule)``: ``rule``, saying that null is meaningful (``max_per_class: null`` = all).

None always passes (a null setting means its default or "no limit"), and so does a value of the wrong type for a
range, text or a boolean, unless the range asks for an ``int``: the type check (:func:`type_problem`, which
compares a value with its default's type) names those.  A rule nested under a mapping key holds the rules of that
mapping (``{"loss": {"beta": "0..<1"}}``).
"""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

NUMBER = (int, float)
TEXT = (str, int)  # a text setting also takes an integer, as ``width: small | 32`` does
_TYPE_NAMES = {
    bool: "true or false",
    int: "an integer",
    float: "a number",
    NUMBER: "a number",
    TEXT: "a string",
    str: "a string",
    list: "a list",
    dict: "a mapping",
    Mapping: "a mapping",
    type(None): "null",
}
_RANGE = re.compile(r"^(int)?(?:(>=|>)(-?[\d.]+)|(-?[\d.]+)(<)?\.\.(<)?(-?[\d.]+))$")


@dataclass(frozen=True)
class Each:
    """Every item of a list keeps ``rule``."""

    rule: Any


@dataclass(frozen=True)
class Either:
    """The value keeps one of ``rules``."""

    rules: tuple


@dataclass(frozen=True)
class OrNull:
    """``rule``, with null meaning something (no limit, all): said in the message, so a user knows it exists."""

    rule: Any


def each(rule) -> Each:
    return Each(rule)


def either(*rules) -> Either:
    return Either(tuple(rules))


def optional(rule) -> OrNull:
    return OrNull(rule)


# -- types ------------------------------------------------------------------------------------------------------


def type_of(default: Any):
    """The types a value may have where ``default`` stands (None: any), for :func:`type_problem`."""
    if default is None:
        return None
    if isinstance(default, bool):
        return bool
    for kind, types in ((int, int), (float, NUMBER), (str, TEXT), ((list, tuple), list), (Mapping, Mapping)):
        if isinstance(default, kind):
            return types
    return None


def type_name(types) -> str:
    if types in _TYPE_NAMES:
        return _TYPE_NAMES[types]
    if isinstance(types, tuple):
        return " or ".join(type_name(t) for t in types)
    return f"a {types.__name__}"


def type_problem(value: Any, types, like: Any = None) -> str | None:
    """Why ``value`` is not of ``types`` (a type or a tuple of them; None: any), or None when it is.

    A boolean is not a number here, though Python says it is an int.  ``like`` (a default) is named in the
    message, so a user sees what the setting expects.
    """
    if types is None:
        return None
    allowed = types if isinstance(types, tuple) else (types,)
    if isinstance(value, allowed) and (not isinstance(value, bool) or bool in allowed):
        return None
    hint = f" (like the default {list(like) if isinstance(like, tuple) else like!r})" if like is not None else ""
    if types in (Mapping, dict):
        hint = ""
    return f"expected {type_name(types)}{hint}, got {type(value).__name__} {value!r}"


# -- value rules --------------------------------------------------------------------------------------------


def closest(key: str, known: Iterable[str]) -> str | None:
    """The known key a misspelling most likely meant (by similarity, else the longest shared prefix)."""
    known = [str(k) for k in known]
    found = difflib.get_close_matches(str(key), known, n=1, cutoff=0.5)
    if found:
        return found[0]
    prefixed = [k for k in known if str(key).startswith(k) or k.startswith(str(key))]
    return max(prefixed, key=len) if prefixed else None


def _number(text: str) -> float | int:
    return float(text) if "." in text else int(text)


@functools.cache
def _range(rule: str):
    """``(integer?, test, description)`` of a range string; ValueError for a string outside the vocabulary."""
    m = _RANGE.match(rule)
    if not m:
        raise ValueError(f"unknown value rule {rule!r}: expected a tuple of choices or a range such as '>=0', '0..1'")
    integer, op, bound, low, open_low, open_high, high = m.groups()
    if op:
        b = _number(bound)
        test = (lambda v: v >= b) if op == ">=" else (lambda v: v > b)
        text = f"{op} {bound}"
        if integer:
            text = "a positive integer" if (op, b) in ((">=", 1), (">", 0)) else f"an integer {text}"
        return bool(integer), test, text
    lo, hi = _number(low), _number(high)
    texts = {
        (False, False): f"between {low} and {high}",
        (True, True): f"strictly between {low} and {high}",
        (False, True): f">= {low} and < {high}",
        (True, False): f"> {low} and <= {high}",
    }
    text = texts[(bool(open_low), bool(open_high))]

    def test(v):
        return (v > lo if open_low else v >= lo) and (v < hi if open_high else v <= hi)

    return bool(integer), test, f"an integer {text}" if integer else text


def describe(rule, null: str = "null") -> str:
    """What ``rule`` allows, in words (``null``: the word for None, ``None`` in Python-facing messages)."""
    if isinstance(rule, tuple):
        return f"one of {', '.join(map(str, rule))}"
    if isinstance(rule, Each):
        return f"a list, every item {describe(rule.rule, null)}"
    if isinstance(rule, Either):
        return ", or ".join(describe(r, null) for r in rule.rules)
    if isinstance(rule, OrNull):
        return f"{null} or {describe(rule.rule, null)}"
    return _range(rule)[2]


def _keeps(value: Any, rule) -> bool:
    if value is None:
        return True
    if isinstance(rule, tuple):  # True == 1, so a boolean only matches a boolean choice
        return any(c == value and isinstance(c, bool) == isinstance(value, bool) for c in rule)
    if isinstance(rule, Each):
        return isinstance(value, list) and all(v is not None and _keeps(v, rule.rule) for v in value)
    if isinstance(rule, Either):
        return any(_keeps(value, r) for r in rule.rules)
    if isinstance(rule, OrNull):
        return _keeps(value, rule.rule)
    integer, test, _ = _range(rule)
    if isinstance(value, bool) or not isinstance(value, NUMBER):
        return not integer  # a wrong type is the type check's to name, unless the rule asks for an integer
    if integer and not isinstance(value, int):
        return False
    return bool(test(value))


def _choices(rule) -> list:
    """The texts a misspelt value may have meant."""
    if isinstance(rule, tuple):
        return [c for c in rule if isinstance(c, str)]
    if isinstance(rule, (Either, OrNull)):
        inner = rule.rules if isinstance(rule, Either) else (rule.rule,)
        return [c for r in inner for c in _choices(r)]
    return []


def problem(value: Any, rule, null: str = "null") -> tuple[str, str | None] | None:
    """``(what the rule expects, the choice a misspelt text meant or None)`` when ``value`` breaks ``rule``;
    None when it keeps it (or is None)."""
    if _keeps(value, rule):
        return None
    expected = describe(rule, null)
    if isinstance(rule, str) and _range(rule)[0] and not (isinstance(value, int) and not isinstance(value, bool)):
        expected = "an integer"  # "int>=1" given 2.5 or "many": the type is what is wrong
    hint = closest(value, _choices(rule)) if isinstance(value, str) and _choices(rule) else None
    return expected, hint


def rule_problem(value: Any, rule, owner: str | None = None) -> str | None:
    """Why ``value`` breaks ``rule``, as an error message: ``expected ..., got ... (owner); did you mean ...?``."""
    found = problem(value, rule)
    if found is None:
        return None
    expected, hint = found
    message = f"expected {expected}, got {value!r}" + (f" ({owner})" if owner else "")
    return message + (f"; did you mean {hint!r}?" if hint else "")


def value_problems(values: Mapping | None, rules: Mapping | None, path: str = ""):
    """``(dotted key, message)`` for every value of ``values`` breaking its rule, mappings recursively."""
    if not isinstance(values, Mapping):
        return
    for key, rule in (rules or {}).items():
        where = f"{path}.{key}" if path else str(key)
        value = values.get(key)
        if isinstance(rule, Mapping):
            yield from value_problems(value, rule, where)
        elif key in values:
            message = rule_problem(value, rule)
            if message:
                yield where, message


def require(owner: str, settings: Mapping, rules: Mapping, error: type[Exception] = ValueError) -> None:
    """Raise ``error`` for the first setting breaking its rule: for code that gets settings without an entry
    being resolved (a component built from Python), which the resolution's check never saw."""
    for key, rule in rules.items():
        if isinstance(rule, Mapping) or key not in settings:
            continue
        found = problem(settings[key], rule, null="None")
        if found:
            expected, hint = found
            message = f"{owner}: setting {key} must be {expected}, got {settings[key]!r}"
            raise error(message + (f"; did you mean {hint!r}?" if hint else ""))
