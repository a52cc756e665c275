"""What ``bench data check --dataset elan`` says about a corpus's annotation values: the conventions that decide
what becomes a class (variants, fingerspelling, values without a letter), counted with examples, so a
convention the settings do not cover shows before a run."""

from __future__ import annotations

import re
from collections import Counter

from benchmark.datasets.check import EXAMPLES, relative
from benchmark.datasets.elan.glosses import FINGERSPELLING_PREFIXES, NO_LETTER, Conventions, gloss_counts
from benchmark.interfaces import FPS

VARIANT_MEANING = {
    "merge": "counted as their class (variants: merge)",
    "ignore": "ignored spans, neither sign nor background (variants: ignore)",
    "background": "background (variants: background)",
}


def _n(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


def _examples(counts: Counter, k: int = EXAMPLES) -> str:
    """``'A' (5), 'B' (2), ... (+3 more)``: the most frequent values first, ties by value."""
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    shown = ", ".join(f"{v!r} ({n})" for v, n in top[:k])
    return shown + (f", ... (+{len(top) - k} more)" if len(top) > k else "")


def _variant_notes(values: list[str], conv: Conventions, classes: set[str]) -> list[str]:
    split = [(v, *conv.split(v)) for v in values]
    of_class = Counter(v for v, gloss, variant in split if variant and gloss in classes and not conv.excluded(v))
    other = Counter(v for v, gloss, variant in split if variant and v not in of_class)
    lines = []
    if of_class:
        n_classes = len({conv.split(v)[0] for v in of_class})
        lines.append(
            f"variants of classes ({conv.marker!r} + a class): {_n(sum(of_class.values()), 'annotation')} of"
            f" {_n(n_classes, 'class', 'classes')}, {_examples(of_class)}; {VARIANT_MEANING[conv.variants]}"
        )
    if other:
        lines.append(
            f"variants of glosses that are not classes: {_n(sum(other.values()), 'annotation')}, {_examples(other)};"
            " background"
        )
    return lines


def _value_notes(values: list[str], conv: Conventions, classes: set[str]) -> list[str]:
    """Fingerspelling-like values and values without a letter, counted."""
    lines = []
    spelled = Counter(v for v in values if conv.split(v)[0].startswith(FINGERSPELLING_PREFIXES))
    if spelled:
        n_class = sum(1 for v in spelled if conv.split(v)[0] in classes)
        prefixes = ", ".join(map(repr, FINGERSPELLING_PREFIXES))
        lines.append(
            f"fingerspelling-like values (prefix {prefixes}): {_n(sum(spelled.values()), 'annotation')}, {len(spelled)}"
            f" distinct, {_examples(spelled)}; {n_class} of them classes (exclude: '^DT:' would leave them out)"
        )
    letterless = Counter(v for v in values if re.search(NO_LETTER, v))
    if letterless:
        kept = [v for v in letterless if not conv.excluded(v)]
        status = "all excluded (exclude)" if not kept else f"{len(kept)} distinct not excluded by exclude"
        lines.append(
            f"values without a letter: {_n(sum(letterless.values()), 'annotation')}, {len(letterless)} distinct,"
            f" {_examples(letterless)}; {status}"
        )
    return lines


def _short_notes(res) -> list[str]:
    """Annotations shorter than one frame at 25 fps (the pipeline's default grid)."""
    limit = 1000.0 / FPS
    short = [(v, g) for v, gs in res.glosses.items() for g in gs if g.end_ms - g.start_ms < limit]
    if not short:
        return []
    shown = "; ".join(f"{relative(res.eaf_files.get(v), res.root) or v}: {g}" for v, g in short[:EXAMPLES])
    more = f"; ... (+{len(short) - EXAMPLES} more)" if len(short) > EXAMPLES else ""
    return [f"annotations shorter than one frame at {FPS} fps ({limit:g} ms): {len(short)}, {shown}{more}"]


def _unused_label_notes(res, conv: Conventions) -> list[str]:
    if res.settings.get("labels") is None or not res.class_names:
        return []
    seen = gloss_counts(res.glosses, conv)
    never = [c for c in res.class_names if c and c not in seen]
    if not never:
        return []
    shown = ", ".join(map(repr, never[: EXAMPLES * 2])) + (", ..." if len(never) > EXAMPLES * 2 else "")
    return [f"glosses of the labels file that never occur: {len(never)} of {len(res.class_names)}, {shown}"]


def elan_notes(res) -> list[str]:
    """What an ELAN corpus's conventions make of its annotation values (the videos in a split of the
    :class:`~benchmark.datasets.elan.ElanScan` ``res``), counted with examples: variants, fingerspelling, values
    without a letter, one-frame annotations, unused labels."""
    if not res.glosses:  # (settings with problems: nothing read)
        return []
    conv = Conventions.of(res.settings)
    classes = set(res.class_names)
    values = [g.value for gs in res.glosses.values() for g in gs]
    return [
        *_variant_notes(values, conv, classes),
        *_value_notes(values, conv, classes),
        *_short_notes(res),
        *_unused_label_notes(res, conv),
    ]
