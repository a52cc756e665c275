"""Reading the glosses of an ``.eaf`` file and the conventions that make annotation values classes.

:func:`read_glosses` reads the tiers a ``tier`` setting matches (pympi-ling); :class:`Conventions` says what a
value stands for (``variants``, ``variant_marker``, ``exclude``); :func:`top_glosses` chooses the classes and
:func:`label_video` turns one video's glosses into annotations under them.  See :mod:`benchmark.datasets.elan`
for the settings.
"""

from __future__ import annotations

import fnmatch
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmark.datasets.records import Findings

VARIANTS = ("merge", "ignore", "background")
NO_LETTER = r"^[\W\d_]*$"  # every character a non-letter (a letter is a word character that is no digit nor _)
# Prefixes of fingerspelled values (``DT:`` "dactilología", LSE corpora); reported by ``bench data check``.
FINGERSPELLING_PREFIXES = ("DT:",)
# ``labels: sign``: segmentation as spotting with one class, every sign of the tier is class SIGN
SIGN_LABELS, SIGN = "sign", "SIGN"


@dataclass(frozen=True)
class Gloss:
    """One non-empty annotation of a matched tier, in ELAN's own milliseconds."""

    tier: str
    start_ms: int
    end_ms: int
    value: str

    def __str__(self) -> str:
        return f"{self.value!r} {self.start_ms}-{self.end_ms} ms (tier {self.tier!r})"


@dataclass(frozen=True)
class Conventions:
    """How annotation values become classes: ``variants``, ``variant_marker`` and ``exclude``."""

    variants: str = "merge"
    marker: str = "*"
    exclude: re.Pattern | None = re.compile(NO_LETTER)
    one_class: bool = False  # ``labels: sign``: every value not excluded is class SIGN, variants included

    @classmethod
    def of(cls, settings: Mapping[str, Any]) -> Conventions:
        """The conventions of (already validated) settings."""
        pattern = settings.get("exclude")
        marker = settings.get("variant_marker") or ""
        one = settings.get("labels") == SIGN_LABELS
        return cls(settings["variants"], marker, re.compile(pattern) if pattern else None, one)

    def split(self, value: str) -> tuple[str, bool]:
        """``(gloss, is_variant)``: the gloss a value stands for (the marker removed once) and whether it is a
        variant."""
        if self.marker and value.startswith(self.marker):
            return value[len(self.marker) :].strip(), True
        return value, False

    def excluded(self, value: str) -> bool:
        """Whether ``exclude`` matches the value or the gloss it stands for (never a class)."""
        gloss, _ = self.split(value)
        return self.exclude is not None and bool(self.exclude.search(value) or self.exclude.search(gloss))

    def candidate(self, value: str) -> str | None:
        """The class a value counts for when the classes are chosen (``top_k``), or None."""
        gloss, variant = self.split(value)
        if not gloss or self.excluded(value):
            return None
        if self.one_class:
            return SIGN
        return None if variant and self.variants != "merge" else gloss

    def label(self, value: str, index: Mapping[str, int]) -> tuple[int | None, bool]:
        """``(class, ignored)`` of a value given the classes: a class index, an ignored span, or neither."""
        gloss, variant = self.split(value)
        if self.one_class:  # a sign whatever its gloss: variants, fingerspelling, glosses of no class
            return (index[SIGN], False) if gloss and not self.excluded(value) else (None, False)
        if self.excluded(value) or gloss not in index:
            return None, False
        if not variant:
            return index[gloss], False
        if self.variants == "merge":
            return index[gloss], False
        return None, self.variants == "ignore"


# -- reading an .eaf file -----------------------------------------------------------------------------------------


def _tier_list(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names) if names else "(none)"


def _case_only(names: list[str], matched: list[str], tier: str) -> list[str]:
    """Tiers ``tier`` would match but for case (``Var`` for ``VAR``), not already matched."""
    return [n for n in names if n not in matched and fnmatch.fnmatchcase(n.casefold(), tier.casefold())]


def _matched_tiers(path: Path, names: list[str], tier: str | None, findings: Findings) -> list[str] | None:
    """The tiers of a file that ``tier`` matches (None: the file cannot be used, the reason in ``findings``)."""
    if tier is None:
        if len(names) != 1:
            findings.problems.append(
                f"{path}: {len(names)} tiers ({_tier_list(names)}); set the dataset setting tier to the gloss tier's"
                " name or a glob pattern (e.g. tier: 'Gloss*')"
            )
            return None
        return names
    matched = [n for n in names if fnmatch.fnmatchcase(n, tier)]
    case = _case_only(names, matched, tier)
    if not matched:
        hint = f" ({_tier_list(case)} differs only by case: tier names are case-sensitive)" if case else ""
        findings.problems.append(f"{path}: no tier matches tier {tier!r}{hint}; tiers found: {_tier_list(names)}")
        return None
    if case:
        findings.warnings.append(
            f"{path}: tier(s) {_tier_list(case)} differ from tier {tier!r} only by case; not read (names are"
            " case-sensitive)"
        )
    return matched


def _open_eaf(path: Path, findings: Findings):
    """The parsed file (pympi's ``Eaf``), or None when it cannot be parsed (the reason in ``findings``)."""
    import warnings

    from pympi.Elan import Eaf

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pympi warns about ELAN format versions it does not know
            return Eaf(str(path))
    except Exception as e:  # any parser failure (bad XML, a missing attribute) means a malformed file
        findings.problems.append(
            f"{path}: cannot be read as an ELAN file ({type(e).__name__}: {e}); check that ELAN opens it"
        )
        return None


def _warn_time_origins(path: Path, eaf, findings: Findings) -> None:
    """A media offset ELAN applies is not applied here: say so, since the times would then disagree."""
    for media in eaf.media_descriptors:
        if int(media.get("TIME_ORIGIN") or 0):
            findings.warnings.append(
                f"{path}: media {media.get('MEDIA_URL')} has a time origin of {media['TIME_ORIGIN']} ms in ELAN;"
                " annotation times are read as media times from 0 (the offset is not applied)"
            )


def _tier_glosses(path: Path, name: str, rows, findings: Findings) -> list[Gloss]:
    """The usable annotations of one tier's rows ``(start, end, value[, parent value])``; the others are problems
    (not time-aligned, inverted) and empty values are skipped."""
    out = []
    for row in rows:
        start, end, value = row[0], row[1], str(row[2] or "").strip()
        if not value:
            continue
        if start is None or end is None:
            findings.problems.append(
                f"{path}: tier {name!r}: annotation {value!r} is not time-aligned (no time value); align it in ELAN"
            )
            continue
        if end < start:
            findings.problems.append(f"{path}: tier {name!r}: annotation {value!r} ends ({end}) before it starts")
            continue
        out.append(Gloss(name, int(start), int(end), value))
    return out


def read_glosses(path: Path, tier: str | None, findings: Findings) -> list[Gloss] | None:
    """The non-empty annotations of the tiers of ``path`` that ``tier`` matches (None: the file's only tier).

    :return: None when the file cannot be used (the reason is in ``findings``)
    """
    eaf = _open_eaf(path, findings)
    if eaf is None:
        return None
    names = list(eaf.tiers)
    if not names:
        findings.problems.append(f"{path}: no tiers (an empty ELAN file?)")
        return None
    matched = _matched_tiers(path, names, tier, findings)
    if matched is None:
        return None
    _warn_time_origins(path, eaf, findings)
    out: list[Gloss] = []
    for name in matched:
        try:
            rows = eaf.get_annotation_data_for_tier(name)  # (start, end, value[, parent value])
        except Exception as e:  # a reference annotation pointing nowhere, a missing time slot
            findings.problems.append(f"{path}: tier {name!r} cannot be read ({type(e).__name__}: {e})")
            return None
        out += _tier_glosses(path, name, rows, findings)
    return out


# -- classes and labels -------------------------------------------------------------------------------------------


def gloss_counts(glosses: Mapping[str, list[Gloss]], conv: Conventions = Conventions()) -> Counter:
    """How often each gloss occurs as a class would (``*X`` counts for ``X`` under ``variants: merge``;
    excluded values and, otherwise, variants do not count)."""
    return Counter(c for gs in glosses.values() for g in gs if (c := conv.candidate(g.value)) is not None)


def top_glosses(glosses: Mapping[str, list[Gloss]], top_k: int, conv: Conventions = Conventions()) -> list[str]:
    """The ``top_k`` most frequent glosses (counted by :func:`gloss_counts`), ties broken by name."""
    counts = gloss_counts(glosses, conv)
    return [name for name, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top_k]]


def resolve_overlaps(
    anns: list[tuple[int, int, int, Gloss]], policy: str, where: str, findings: Findings
) -> tuple[tuple[int, int, int], ...]:
    """One video's ``(class, start, end, gloss)`` (ELAN ms) -> sorted annotations, overlaps per ``policy``."""
    anns = sorted(anns, key=lambda a: (a[1], a[2], a[0], a[3].tier))
    kept: list[tuple[int, int, int, Gloss]] = []
    prev = None  # the kept sign reaching furthest
    dropped = 0
    for a in anns:
        if prev is not None and a[1] < prev[2] and policy != "keep":
            if policy == "error":
                findings.problems.append(
                    f"{where}: annotations {prev[3]} and {a[3]} overlap (as {list(prev[:3])} and {list(a[:3])});"
                    " fix them, or set the dataset setting overlap to drop (keep the earlier) or keep (both)"
                )
            dropped += 1
            if policy == "drop":
                continue  # (error: compared on as if kept, so every overlapping pair is named)
        kept.append(a)
        if prev is None or a[2] > prev[2]:
            prev = a
    if dropped and policy == "drop":
        findings.warnings.append(f"{where}: {dropped} overlapping annotation(s) dropped (overlap: drop)")
    return tuple((c, s, e) for c, s, e, _ in kept)


def label_video(
    glosses: list[Gloss], index: Mapping[str, int], conv: Conventions, overlap: str, where: str, findings: Findings
) -> tuple[tuple[tuple[int, int, int], ...], tuple[tuple[int, int], ...]]:
    """One video's glosses -> ``(annotations, ignored spans)`` under the classes ``index`` and the conventions."""
    anns, ignored = [], set()
    for g in glosses:
        cls, ignore = conv.label(g.value, index)
        if cls is not None:
            anns.append((cls, g.start_ms, g.end_ms, g))
        elif ignore:
            ignored.add((g.start_ms, g.end_ms))
    return resolve_overlaps(anns, overlap, where, findings), tuple(sorted(ignored))
