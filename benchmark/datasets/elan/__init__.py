"""The ``elan`` dataset: a folder of media with ELAN annotation files (``.eaf``), as corpora are kept.

Layout: any folder tree holding media (``<video>.mp4``, any video OpenCV opens, and/or ``<video>.pose``) and
``.eaf`` files, at any depth (hidden files and folders are ignored).  A video id is the media file's stem, so
stems are unique across the tree: two media files of one stem in different folders are an error naming both; a
``.mp4`` and a ``.pose`` of one stem in one folder are one video.  ELAN files are read with pympi-ling.

Which ``.eaf`` annotates which media, as ELAN finds media (:func:`linked_media`): an ``.eaf`` of the media's
stem anywhere in the tree first; else the media the ``.eaf`` header links, per media descriptor in header
order, its ``RELATIVE_MEDIA_URL`` resolved against the ``.eaf``'s folder, then the file name of its
``MEDIA_URL`` beside the ``.eaf`` (the absolute ``MEDIA_URL`` itself is the annotator's machine's, so it is not
followed).  Only media inside the dataset folder count, and the video keeps the media's stem as its id:
``session1.eaf`` linking ``./session1_cam2.mp4`` annotates video ``session1_cam2``.  An ``.eaf`` linking
several media annotates the first found (a warning names the others); two ``.eaf`` files claiming one video by
the same rule are an error naming both (an ``.eaf`` of the media's own stem wins over one that only links it,
with a warning).  Only the header is parsed to follow links, and only for an ``.eaf`` whose stem names no
media.  :func:`eaf_for_media` is the reverse lookup in a media file's folder (for writing spotted signs back).

Settings (declared once, in :attr:`ElanCorpus.defaults`):

* ``tier``: the tier holding the glosses, a name or an ``fnmatch`` pattern (case-sensitive, e.g. ``Gloss*``).
  Every matching tier of a file is read.  A file with no matching tier is an error listing its tiers (and
  naming a tier that differs only by case).  Default null: each file must have exactly one tier.
* ``labels``: a text file, one query gloss a line, line i = class i.  Default null: the ``top_k`` most
  frequent glosses over every video of the dataset (all splits), ties broken by gloss name, counted after
  ``variants`` and ``exclude`` (below).  Annotation values that are not classes are background (not query
  signs); empty values are ignored.  A listed gloss that never occurs is a warning; a listed variant
  (``*X``) or excluded value is an error (line i must be class i, and such a value can never be one).
  ``labels: sign`` is segmentation as spotting with one class: every annotation of the matched tiers is
  class ``SIGN`` whatever its gloss (variants, fingerspelling and glosses of no class included; ``exclude``
  still applies, since its markers are not signs).  A run on it learns sign boundaries, and ``bench spot``
  names its tier ``SIGN`` (a labels file named ``sign`` is written ``./sign``).
* ``variants`` and ``variant_marker`` (default ``*``): a value starting with the marker is a *variant* of the
  gloss after it (``*COMER`` is a variant of ``COMER``; the marker is removed once, with the spaces after it,
  and nothing else: ``*AFECTAR(s)`` is a variant of ``AFECTAR(s)``, not of ``AFECTAR``, since a decoration
  after a gloss is the annotator's and may mark a different sign, e.g. a plural; ``bench data check`` lists
  variants whose gloss is not a class, so such a convention shows).  A variant never is a class of its own:

  - ``merge`` (default): ``*X`` counts as class ``X`` (in ``top_k``'s counting too).  A variant is the same
    sign performed differently; as background it would teach the model that its own class is a negative;
  - ``ignore``: the span of ``*X`` with ``X`` a class is neither a sign nor background
    (:attr:`~benchmark.interfaces.VideoRecord.ignored`: left out of training targets and of scoring);
    a variant of a gloss that is not a class is background; variants are not counted by ``top_k``;
  - ``background``: variants are background and are not counted by ``top_k``.

  ``variant_marker: ''`` turns variants off (values are taken as written).
* ``exclude``: a regular expression (Python ``re.search``) tested on each value, and on the gloss a variant
  stands for; a value it matches never becomes a class (it is background, and ``top_k`` does not count it).
  Default :data:`NO_LETTER`, values without a letter (``:``, ``...``, ``12.``, ``?``), which corpora use as
  markers (pauses, boundaries); ``A`` or ``DT:A`` are kept.  ``exclude: ''`` excludes nothing.
  Fingerspelling (values starting with a prefix of :data:`FINGERSPELLING_PREFIXES`, ``DT:ANA``) is not
  excluded by default; ``bench data check`` reports it (``exclude: '^DT:'`` leaves it out).
* ``splits``: a CSV file with columns ``video,split`` (``train``, ``validation`` or ``test``; other columns
  ignored).  A video the CSV does not list is left out (a warning); a listed video that is not in the folder
  is an error.  Default null: a seeded split by file (``seed``, default 0): videos ordered by
  ``sha256("<seed>:<video>")``, the first ``round(15 %)`` are test, the next ``round(15 %)`` validation, the rest
  train, at least one each from 3 videos on.  Ordering by a per-video hash keeps a video's split when other
  videos are added, unless it sits at a boundary.
  Relative ``labels`` / ``splits`` paths are looked up in the dataset folder, then the working directory.
* ``overlap``: two query signs of one video overlapping in time (touching is fine, as in
  :mod:`benchmark.datasets.records`): ``error`` (default: the project's ground truth never overlaps, so the
  annotator decides; the error names the file and both annotations), ``drop`` (keep the earlier, drop the
  later, starting later or ending later for equal starts, when it overlaps a sign already kept; a warning
  per file), ``keep`` (both).
* ``on_missing_annotation``: a media file without ``.eaf``: ``fail`` (default: an error naming it), ``skip``
  (a warning, the video is left out), ``empty`` (a video without signs, reported by
  :meth:`~benchmark.interfaces.Dataset.missing_ground_truth`, so ``--on-bad-annotation`` decides).

Times: ELAN's time slots are milliseconds of the media's time line, read unchanged (the overlap check too).
The frame grid is the pipeline's business (:mod:`benchmark.engine.clips`: at ``preprocess.fps`` a sign ``[s, e]``
labels frames ``floor(s fps / 1000) .. floor(e fps / 1000)``).  Every split is labelled.  Media are not
opened here (opening stays cheap); signs past the end of their media are the core's check
(``--on-bad-annotation``), and ``bench data check --dataset elan`` reports them.  ``bench data check --no-open``
also reads a folder of ``.eaf`` files whose media are not there yet (:func:`scan` with ``require_media=False``).

Modules, by job: :mod:`~benchmark.datasets.elan.glosses` (reading ``.eaf`` tiers, the variant and exclude
conventions, choosing and labelling classes), :mod:`~benchmark.datasets.elan.media` (finding media and their
``.eaf`` as ELAN does), :mod:`~benchmark.datasets.elan.lists` (the labels and splits files, the seeded split),
:mod:`~benchmark.datasets.elan.scan` (reading a folder, every problem collected),
:mod:`~benchmark.datasets.elan.dataset` (the dataset class and its ``bench data check`` report, with
:mod:`~benchmark.datasets.elan.notes`) and :mod:`~benchmark.datasets.elan.fingerprint` (hashing).
"""

from benchmark.datasets.elan.dataset import ON_MISSING, OVERLAP, ElanCorpus, check_elan, scan
from benchmark.datasets.elan.fingerprint import SHAPING, fingerprint_of
from benchmark.datasets.elan.glosses import (
    FINGERSPELLING_PREFIXES,
    NO_LETTER,
    VARIANTS,
    Conventions,
    Gloss,
    gloss_counts,
    label_video,
    read_glosses,
    resolve_overlaps,
    top_glosses,
)
from benchmark.datasets.elan.lists import HELD_OUT_SHARE, read_labels, read_splits, seeded_splits
from benchmark.datasets.elan.media import (
    EAF_EXT,
    MediaFiles,
    eaf_for_media,
    find_media,
    linked_media,
    media_descriptors,
    url_path,
)
from benchmark.datasets.elan.notes import elan_notes
from benchmark.datasets.elan.scan import ElanScan, setting_problems

__all__ = [
    "EAF_EXT",
    "FINGERSPELLING_PREFIXES",
    "HELD_OUT_SHARE",
    "NO_LETTER",
    "ON_MISSING",
    "OVERLAP",
    "SHAPING",
    "VARIANTS",
    "Conventions",
    "ElanCorpus",
    "ElanScan",
    "Gloss",
    "MediaFiles",
    "check_elan",
    "eaf_for_media",
    "elan_notes",
    "find_media",
    "fingerprint_of",
    "gloss_counts",
    "label_video",
    "linked_media",
    "media_descriptors",
    "read_glosses",
    "read_labels",
    "read_splits",
    "resolve_overlaps",
    "scan",
    "seeded_splits",
    "setting_problems",
    "top_glosses",
    "url_path",
]
