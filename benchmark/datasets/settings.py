"""A dataset's settings checked against its declaration (``defaults`` and ``rules``), as problems to collect.

The core checks an entry's ``dataset.settings`` before any work (:mod:`benchmark.config.settings`) and stops
at the first bad one; a dataset read outside a run (``bench data check``, ``open`` called from Python) checks
them here instead, every problem named in the dataset's words (``dataset elan: setting top_k must be an
integer >= 1, got 0``), in the vocabulary of :mod:`benchmark.config.rules`.  A value may be null only where
its default is: the dataset reads it as written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from benchmark.config.rules import describe, problem, type_of, type_problem


def _expected(rule: Any, default: Any) -> str:
    """What ``rule`` allows, in words, saying "an integer" where the default is one (``an integer >= 1``)."""
    text = describe(rule)
    integer = isinstance(default, int) and not isinstance(default, bool)
    return f"an integer {text}" if integer and isinstance(rule, str) and "integer" not in text else text


def declared_problems(dataset, settings: Mapping[str, Any]) -> list[str]:
    """Unknown keys, and values that break their rule (:attr:`~benchmark.interfaces.Configurable.rules`) or
    their default's type, of ``settings`` (merged over the defaults of the dataset class ``dataset``)."""
    declared, rules = dataset.declared(), dataset.value_rules()
    name = f"dataset {dataset.name}"
    problems = [f"{name}: unknown setting {k!r}; known: {', '.join(declared)}" for k in settings if k not in declared]
    for key, rule in rules.items():
        default = declared.get(key)
        value = settings.get(key, default)
        if value is None and default is None:
            continue
        found = None if value is None else problem(value, rule)
        if value is None or found is not None or type_problem(value, type_of(default)) is not None:
            hint = f"; did you mean {found[1]!r}?" if found and found[1] else ""
            problems.append(f"{name}: setting {key} must be {_expected(rule, default)}, got {value!r}{hint}")
    return problems
