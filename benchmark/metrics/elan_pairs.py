"""Scoring ELAN against ELAN: a folder of human-annotated ``.eaf`` files against a folder of spotted ones.

``bench score HUMAN_DIR SPOTTED_DIR`` (and :func:`score_elan_folders`, for scripts and tests) pairs the files by
stem and turns both into the ``{video: [[class, start_ms, end_ms(, score)], ...]}`` dicts every metric reads:

* pairing: ``.eaf`` files found at any depth (hidden files and folders skipped, as the ``elan`` dataset does),
  the video id being the file stem; two files of one stem in one folder are an error naming both.  A human
  file without a spotted one still counts (its signs are all misses: spotting that wrote nothing found
  nothing); a spotted file without a human one is left out (nothing to score it against); both are warnings.
  No pair at all is an error;
* the human tier (``tier``: a name or ``fnmatch`` pattern, None = the file's only tier) is read and labelled
  exactly as the ``elan`` dataset does (:func:`~benchmark.datasets.elan.read_glosses`,
  :func:`~benchmark.datasets.elan.label_video`: ``variants``, ``variant_marker``, ``exclude``), with overlap
  policy ``keep``: scoring takes the signs as annotated, where a run's dataset may have refused or dropped
  overlapping ones (then the run's own F1 differs where it did);
* the spotted tier (``against``, a plain name) gives the predictions: annotations whose value is a class
  (written as the class name, as ``bench spot`` does); other values are left out and counted in a warning.
  Predictions inside the human file's ignored spans (``variants: ignore``) are removed with
  :func:`~benchmark.engine.clips.outside_ignored`, as a run does.  A dependent tier ``<against>-score``
  (symbolic association) gives each annotation its score, the 4th element that rank metrics (``tal-map``)
  need; the ChaLearn F1 ignores it.  Annotations keep the tier's order (the metric's tie order depends on it);
* classes: a labels file (line i = class i, read as the dataset's ``labels`` setting), ``"sign"`` (the
  dataset's ``labels: sign``: one class ``SIGN``, every annotation of both tiers whatever its value, variants
  and fingerspelling included, ``exclude`` still applied), or None: every gloss of either tier after the
  conventions, sorted by name (the F1 then also counts human glosses the model could never know);
* times are ELAN's milliseconds as written, never snapped to frames: a run scores the same milliseconds, so
  a run's own test videos spotted with ``bench spot`` give the run's F1.

With one class (or ``segmentation=True``) the result also holds the one-class segmentation figures of
:mod:`benchmark.metrics.segmentation`.
"""

from __future__ import annotations

import glob
import os
import re
from collections import Counter
from pathlib import Path

from benchmark.datasets.elan.glosses import (
    NO_LETTER,
    SIGN,
    SIGN_LABELS,
    VARIANTS,
    Conventions,
    label_video,
    read_glosses,
)
from benchmark.datasets.elan.lists import read_labels, setting_file
from benchmark.datasets.elan.media import EAF_EXT
from benchmark.datasets.records import Findings
from benchmark.errors import DataError

SCORE_SUFFIX = "-score"  # the spotted tier's dependent score tier: <against>-score
SHOWN = 20  # problems listed in an error
FIX = (
    "fix the files, or pass --tier (the human gloss tier: a name or pattern such as 'Gloss*') and --against (the"
    " spotted tier) naming tiers the files have"
)


# -- pairing --------------------------------------------------------------------------------------------------------


def eaf_files(root: Path) -> dict[str, Path]:
    """``{stem: path}`` of the ``.eaf`` files under ``root`` at any depth (hidden ones skipped); a stem found
    twice is a DataError naming both files."""
    out: dict[str, Path] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(folder) / name
            if name.startswith(".") or path.suffix.lower() != EAF_EXT:
                continue
            if path.stem in out:
                raise DataError(
                    f"{root}: two .eaf files of stem {path.stem!r}: {out[path.stem]} and {path}; files are paired by"
                    " stem, so rename or remove one"
                )
            out[path.stem] = path
    return dict(sorted(out.items()))


def pair_folders(human_dir: Path, spotted_dir: Path, findings: Findings) -> dict:
    """``{"paired", "human_only", "spotted_only"}``: lists of ``{"file", "human", "spotted"}`` (paths as str)."""
    for root, what in ((human_dir, "human"), (spotted_dir, "spotted")):
        if not root.is_dir():
            raise DataError(f"{root}: {what} folder not found (pass a folder of .eaf files)")
    human, spotted = eaf_files(human_dir), eaf_files(spotted_dir)
    if not human:
        raise DataError(f"{human_dir}: no .eaf file found (the human-annotated ELAN files)")
    paired = [{"file": s, "human": str(h), "spotted": str(spotted[s])} for s, h in human.items() if s in spotted]
    human_only = [{"file": s, "human": str(h), "spotted": None} for s, h in human.items() if s not in spotted]
    spotted_only = [{"file": s, "human": None, "spotted": str(p)} for s, p in spotted.items() if s not in human]
    if not paired:
        raise DataError(
            f"no .eaf file of {spotted_dir} has the stem of one of {human_dir} ({len(human)} human, {len(spotted)}"
            " spotted files); files are paired by file name without extension"
        )
    if human_only:
        findings.warnings.append(
            f"{len(human_only)} human file(s) without a spotted one, counted with no spotted sign (all misses): "
            + ", ".join(f["human"] for f in human_only)
        )
    if spotted_only:
        findings.warnings.append(
            f"{len(spotted_only)} spotted file(s) without a human one, left out: "
            + ", ".join(f["spotted"] for f in spotted_only)
        )
    return {"paired": paired, "human_only": human_only, "spotted_only": spotted_only}


# -- reading the tiers ----------------------------------------------------------------------------------------------


def read_scores(path: Path, against: str, findings: Findings) -> dict[tuple, list[float]] | None:
    """``{(start_ms, end_ms, value): [score, ...]}`` from the tier ``<against>-score`` (symbolic association to the
    spotted tier), or None when the file has no such tier."""
    import warnings

    from pympi.Elan import Eaf

    name = against + SCORE_SUFFIX
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pympi warns about ELAN format versions it does not know
            eaf = Eaf(str(path))
            if name not in eaf.tiers:
                return None
            rows = eaf.get_ref_annotation_data_for_tier(name)  # (start, end, value, parent value)
    except Exception as e:  # a reference to nothing, a missing time slot
        findings.problems.append(f"{path}: tier {name!r} cannot be read ({type(e).__name__}: {e})")
        return None
    out: dict[tuple, list[float]] = {}
    for start, end, value, parent in rows:
        try:
            score = float(str(value).strip())
        except ValueError:
            findings.problems.append(
                f"{path}: tier {name!r}: score {value!r} of {parent!r} at {start}-{end} ms is not a number;"
                " write a number (or remove the tier)"
            )
            continue
        out.setdefault((start, end, str(parent or "").strip()), []).append(score)
    return out


def read_pair(pair: dict, tier: str | None, against: str, findings: Findings):
    """``(human glosses, spotted glosses, scores)`` of one pair (None where a file cannot be used, the reason in
    ``findings``); a human-only file has no spotted glosses (an empty list)."""
    human = read_glosses(Path(pair["human"]), tier, findings)
    if pair["spotted"] is None:
        return human, [], None
    path = Path(pair["spotted"])
    spotted = read_glosses(path, glob.escape(against), findings)  # a name, never a pattern
    scores = read_scores(path, against, findings) if spotted is not None else None
    return human, spotted, scores


def raise_problems(findings: Findings) -> None:
    """A DataError listing the problems (each names its file) and how to fix them."""
    problems = list(dict.fromkeys(findings.problems))
    if not problems:
        return
    more = f"\n  ... and {len(problems) - SHOWN} more" if len(problems) > SHOWN else ""
    raise DataError(
        f"{len(problems)} problem(s) reading the .eaf files:\n  " + "\n  ".join(problems[:SHOWN]) + more + f"\n{FIX}"
    )


# -- classes and labelling ------------------------------------------------------------------------------------------


def conventions(variants: str, variant_marker: str, exclude: str | None, labels: str | None = None) -> Conventions:
    """The dataset's conventions from the command's options (checked: a DataError names the bad one); ``labels``
    :data:`SIGN_LABELS` is the dataset's ``labels: sign`` (one class, :attr:`Conventions.one_class`)."""
    if variants not in VARIANTS:
        raise DataError(f"variants {variants!r}: use one of {', '.join(VARIANTS)}")
    try:
        pattern = re.compile(exclude) if exclude else None
    except re.error as e:
        raise DataError(f"exclude {exclude!r} is not a regular expression ({e})") from None
    return Conventions(variants, variant_marker or "", pattern, one_class=labels == SIGN_LABELS)


def labels_file(value: str, human_dir: Path, conv: Conventions) -> list[str]:
    """The classes of a labels file (line i = class i), looked up as the dataset's ``labels`` setting (a relative
    path in the human folder, then the working directory); refused when a line can never be a class."""
    findings = Findings()
    path = setting_file(human_dir, value, "labels", findings)
    if path is None:
        raise DataError(
            f"labels file {value!r} not found in {human_dir} nor the working directory (one gloss a line, line i ="
            " class i; or --labels sign)"
        )
    names = read_labels(path, findings)
    for name in names:
        if name and conv.split(name)[1]:
            findings.problems.append(f"{path}: gloss {name!r} is a variant, never a class; list the gloss itself")
        elif name and conv.excluded(name):
            findings.problems.append(f"{path}: gloss {name!r} matches exclude, never a class; remove it")
    if findings.problems:
        raise DataError("\n".join(findings.problems))
    return names


def choose_classes(labels: str | None, read: dict, human_dir: Path, conv: Conventions) -> list[str]:
    """The class names (see the module docstring); ``read``: ``{file: (human, spotted, scores)}``."""
    if conv.one_class:
        return [SIGN]
    if labels is not None:
        return labels_file(labels, human_dir, conv)
    seen = {conv.candidate(g.value) for human, spotted, _ in read.values() for g in (*human, *spotted)}
    return sorted(seen - {None})


def class_of(classes: list[str], conv: Conventions):
    """The class of a spotted value (None: not a class): its index among ``classes``, written as the class name
    as ``bench spot`` writes it; under ``--labels sign`` every value ``exclude`` does not match (as the human
    tier's, whatever it says)."""
    if conv.one_class:
        return lambda value: conv.label(value, {SIGN: 0})[0]
    index = {name: i for i, name in enumerate(classes)}
    return index.get


def spotted_rows(glosses, scores, class_of, unknown: Counter, missing: Counter) -> list[list]:
    """The predictions of a spotted tier: ``[class, start_ms, end_ms(, score)]`` for values that are classes (the
    others counted in ``unknown``), a score attached when the score tier has one (else counted in ``missing``)."""
    rows = []
    for g in glosses:
        cls = class_of(g.value)
        if cls is None:
            unknown[g.value] += 1
            continue
        row = [cls, g.start_ms, g.end_ms]
        found = scores.get((g.start_ms, g.end_ms, g.value)) if scores is not None else None
        if found:
            row.append(found.pop(0))
        elif scores is not None:
            missing[g.tier] += 1
        rows.append(row)
    return rows


def _warn_counts(unknown: Counter, missing: Counter, in_ignored: int, against: str, findings: Findings) -> None:
    if unknown:
        shown = ", ".join(f"{v!r} x{n}" for v, n in unknown.most_common(10)) + (", ..." if len(unknown) > 10 else "")
        findings.warnings.append(
            f"{sum(unknown.values())} spotted annotation(s) whose value is not a class, left out: {shown}"
        )
    if missing:
        findings.warnings.append(
            f"{sum(missing.values())} spotted annotation(s) without a score in tier {against + SCORE_SUFFIX!r}"
        )
    if in_ignored:
        findings.warnings.append(
            f"{in_ignored} spotted annotation(s) inside ignored spans (variants: ignore) left out, as a run does"
        )


def label_pairs(read: dict, paths: dict, classes: list[str], conv: Conventions, against: str, f: Findings):
    """``(ground truth, predictions, counts)``: the human tiers labelled as the ``elan`` dataset does (overlap
    ``keep``), the spotted tiers' class values as predictions, those inside ignored spans removed."""
    from benchmark.engine.clips import outside_ignored

    index = {name: i for i, name in enumerate(classes)}
    spotted_class = class_of(classes, conv)
    gt, pred, unknown, missing, in_ignored = {}, {}, Counter(), Counter(), 0
    for stem, (human, spotted, scores) in read.items():
        anns, ignored = label_video(human, index, conv, "keep", paths[stem]["human"], f)
        gt[stem] = [list(a) for a in anns]
        rows = spotted_rows(spotted, scores, spotted_class, unknown, missing)
        kept = outside_ignored(rows, ignored)
        in_ignored += len(rows) - len(kept)
        if paths[stem]["spotted"] is not None:
            pred[stem] = kept
    _warn_counts(unknown, missing, in_ignored, against, f)
    counts = {"num_spotted_not_a_class": sum(unknown.values()), "num_spotted_in_ignored_spans": in_ignored}
    return gt, pred, counts


def per_file(scorer, gt: dict, pred: dict, result: dict) -> list[dict]:
    """One row per file: its signs, its predictions and, for a metric whose pooled TP/FP/FN are the sum of its
    per-video ones (:func:`~benchmark.metrics.uncertainty.video_counts`: the ChaLearn F1's are, pooled over
    the 13 thresholds), its TP, FP, FN and F1 (None otherwise)."""
    from benchmark.metrics.uncertainty import f1, video_counts

    has_counts = all(k in result for k in ("tp", "fp", "fn"))
    counts = video_counts(scorer, gt, pred, result) if has_counts else None
    rows = []
    for stem, signs in gt.items():
        tp, fp, fn = counts[stem] if counts is not None else (None, None, None)
        row = {"file": stem, "human": len(signs), "spotted": len(pred.get(stem, ()))}
        row.update(tp=tp, fp=fp, fn=fn, f1=float(f1([tp, fp, fn])) if counts is not None else None)
        rows.append(row)
    return rows


def score_elan_folders(
    human_dir,
    spotted_dir,
    tier: str | None = None,
    against: str = "spotted",
    labels: str | None = None,
    metric: str = "chalearn-f1",
    variants: str = "merge",
    fps: float = 25.0,
    *,
    variant_marker: str = "*",
    exclude: str | None = NO_LETTER,
    segmentation: bool = False,
) -> dict:
    """Score the spotted folder against the human one (module docstring): the metric's result plus ``per_file``,
    ``files`` (``paired``, ``human_only``, ``spotted_only``), ``classes`` (index = class id), ``warnings``,
    ``num_spotted_not_a_class``, ``num_spotted_in_ignored_spans`` and, with one class or ``segmentation``,
    ``segmentation`` (:mod:`benchmark.metrics.segmentation` at ``fps``).  Raises DataError naming the file."""
    from benchmark.metrics.segmentation import segmentation as figures
    from benchmark.plugins import get_plugin_manager

    if not fps > 0:
        raise DataError(f"fps {fps}: must be > 0 (the frame rate of the segmentation figures)")
    findings = Findings()
    conv = conventions(variants, variant_marker, exclude, labels)
    scorer = get_plugin_manager().components("metric").get(metric)
    files = pair_folders(Path(human_dir), Path(spotted_dir), findings)
    pairs = {p["file"]: p for p in sorted(files["paired"] + files["human_only"], key=lambda p: p["file"])}
    read = {stem: read_pair(p, tier, against, findings) for stem, p in pairs.items()}
    raise_problems(findings)
    classes = choose_classes(labels, read, Path(human_dir), conv)
    if not classes:
        findings.warnings.append("no annotation value of either tier can be a class: nothing to score")
    gt, pred, counts = label_pairs(read, pairs, classes, conv, against, findings)
    raise_problems(findings)
    result = dict(scorer.compute(gt, pred))
    result.update(counts, classes=classes, per_file=per_file(scorer, gt, pred, result), files=files)
    if len(classes) == 1 or segmentation:
        result["segmentation"] = figures(gt, pred, fps)
    result["warnings"] = list(dict.fromkeys(findings.warnings))
    return result
