"""Spotted signs written into an ELAN file by editing its XML, so nothing of the annotator's file is lost.

pympi-ling rewrites a file from what it models: it drops what it does not know (``REF_LINK_SET``, ``CVE_REF``,
``EXT_REF`` and ``LANG_REF`` on annotations, unknown header properties...) and labels every file as EAF 2.8.
Here the original tree is kept as parsed (elements, attributes, comments, order, layout); spotting only adds
tiers, linguistic types, a constraint, time slots, a media link and ``lastUsedAnnotation``, each inserted
where the EAF 3.0 schema's sequences put it.  Parsing refuses DTDs: an ``.eaf`` never has one, and entity
declarations can expand without bound.
"""

from __future__ import annotations

import contextlib
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from benchmark.errors import BenchError, DataError
from benchmark.spot.media import MIME
from benchmark.storage.files import write_with

XSI = "http://www.w3.org/2001/XMLSchema-instance"
ET.register_namespace("xsi", XSI)  # written as ELAN writes it, not as `ns0:`
SCHEMA_URL = "http://www.mpi.nl/tools/elan/EAFv3.0.xsd"
AUTHOR = "signspot-bench"
# the xsd:sequence of ANNOTATION_DOCUMENT and of HEADER (EAFv3.0.xsd): new elements go where these put them
DOCUMENT_ORDER = (
    "LICENSE", "HEADER", "TIME_ORDER", "TIER", "LINGUISTIC_TYPE", "LOCALE", "LANGUAGE", "CONSTRAINT",
    "CONTROLLED_VOCABULARY", "LEXICON_REF", "REF_LINK_SET", "EXTERNAL_REF",
)  # fmt: skip
HEADER_ORDER = ("MEDIA_DESCRIPTOR", "LINKED_FILE_DESCRIPTOR", "PROPERTY")
# every xsd:ID attribute of the schema: they share one space, so a new `a12` must differ from a LANG_ID `a12` too
ID_ATTRIBUTES = (
    "TIME_SLOT_ID", "ANNOTATION_ID", "LANGUAGE_CODE", "STEREOTYPE", "EXT_REF_ID", "LEX_REF_ID", "LANG_ID",
    "LINK_SET_ID", "REF_LINK_ID",
)  # fmt: skip
ASSOCIATION = "Symbolic_Association"
CONSTRAINTS = {  # ELAN's four, written into a new document as ELAN does
    "Time_Subdivision": "Time subdivision of parent annotation's time interval, no time gaps allowed within "
    "this interval",
    "Symbolic_Subdivision": "Symbolic subdivision of a parent annotation. Annotations refering to the same "
    "parent are ordered",
    ASSOCIATION: "1-1 association with a parent annotation",
    "Included_In": "Time alignable annotations within the parent annotation's time interval, gaps are allowed",
}
GLOSS_TYPE, SCORE_TYPE, ALTERNATIVE_TYPE = "signspot-gloss", "signspot-score", "signspot-alternative"


@dataclass(frozen=True)
class SpottedTier:
    """One group of tiers to add: ``name`` (the base tier) and its rows, each ``{"start_ms", "end_ms", "gloss",
    "score" (or None), "candidates": [{"gloss", "score"}, ...] (the alternatives after the top one; optional)}``."""

    name: str
    rows: list[dict]


def write_spotted_eaf(
    path: Path, source: Path | None, media: Path | None, tiers: list[SpottedTier]
) -> tuple[Path, dict[str, str]]:
    """Write ``path`` (atomically): ``source`` (an ``.eaf``, read, never changed) or a new EAF 3.0 document,
    linked to ``media`` and with each of ``tiers`` added.  Returns ``(path, {requested name: name used})``: a
    name already in the file (or one its group would create) becomes ``name (2)``, ``name (3)``..."""
    path = Path(path)
    if source is not None and path.resolve() == Path(source).resolve():
        raise BenchError(f"{path}: would overwrite the annotator's own file; write the spotted copy elsewhere")
    document = Document(read_eaf(Path(source)) if source is not None else new_eaf())
    link_media(document.root, Path(source).parent if source is not None else None, media, path.parent)
    used = {tier.name: add_spotted(document, tier) for tier in tiers}
    if tiers:
        document.record_last_annotation()

    def write(tmp: Path) -> None:
        ET.ElementTree(document.root).write(tmp, xml_declaration=True, encoding="UTF-8")

    return write_with(path, write), used


# -- reading and creating -----------------------------------------------------------------------------------------


class _StopScan(Exception):
    """The root element started: past the prolog, where a DTD would be."""


def read_eaf(source: Path) -> ET.Element:
    """The ``ANNOTATION_DOCUMENT`` of ``source`` with its comments and processing instructions; a file with a
    DTD, not XML or not an ELAN document is a :class:`DataError` naming it."""
    data = Path(source).read_bytes()
    _refuse_dtd(data, source)
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True, insert_pis=True))
    try:
        parser.feed(data)
        root = parser.close()
    except ET.ParseError as exc:
        raise DataError(f"{source}: not an XML file ({exc}); check that it opens in ELAN") from None
    if root.tag != "ANNOTATION_DOCUMENT" or root.find("HEADER") is None or root.find("TIME_ORDER") is None:
        raise DataError(f"{source}: not an ELAN annotation document (root <{root.tag}>); check that it opens in ELAN")
    return root


def _refuse_dtd(data: bytes, source: Path) -> None:
    """An ``.eaf`` never has a DTD, and entity declarations can expand without bound ("billion laughs"): refuse
    a DOCTYPE before the tree is built.  Only the prolog is scanned (the scan stops at the root element)."""
    import xml.parsers.expat

    scan = xml.parsers.expat.ParserCreate()

    def refuse(*_):
        raise DataError(f"{source}: has a DOCTYPE/ENTITY declaration, which ELAN files never have; refused")

    def stop(*_):
        raise _StopScan

    scan.StartDoctypeDeclHandler = scan.EntityDeclHandler = refuse
    scan.StartElementHandler = stop
    with contextlib.suppress(_StopScan, xml.parsers.expat.ExpatError):  # a syntax error: read_eaf reports it
        scan.Parse(data, True)


def new_eaf() -> ET.Element:
    """An empty EAF 3.0 document, with the attributes ELAN writes."""
    date = datetime.now().astimezone().isoformat(timespec="seconds")
    root = ET.Element(
        "ANNOTATION_DOCUMENT",
        {
            "AUTHOR": AUTHOR,
            "DATE": date,
            "FORMAT": "3.0",
            "VERSION": "3.0",
            f"{{{XSI}}}noNamespaceSchemaLocation": SCHEMA_URL,
        },
    )
    ET.SubElement(root, "HEADER", {"MEDIA_FILE": "", "TIME_UNITS": "milliseconds"})
    ET.SubElement(root, "TIME_ORDER")
    for stereotype, description in CONSTRAINTS.items():
        ET.SubElement(root, "CONSTRAINT", {"DESCRIPTION": description, "STEREOTYPE": stereotype})
    ET.indent(root, "    ")
    return root


class Document:
    """A parsed ``.eaf`` being added to: how new elements are laid out, which ids are free."""

    def __init__(self, root: ET.Element):
        self.root = root
        self.unit = layout_unit(root)
        taken = {v for e in root.iter() for a in ID_ATTRIBUTES if (v := e.get(a)) is not None}
        last = self.header_property("lastUsedAnnotation")
        # past every `ts<n>`/`a<n>` xsd:ID in use, whatever holds it: they share one space
        self.next = {
            "ts": _largest(taken, "ts") + 1,
            "a": max(_largest(taken, "a"), _int(last.text if last is not None else None)) + 1,
        }

    def new_id(self, prefix: str) -> str:
        """``<prefix><n>``: never one in use, since none is numbered past :attr:`next`."""
        self.next[prefix] += 1
        return f"{prefix}{self.next[prefix] - 1}"

    def header_property(self, name: str) -> ET.Element | None:
        return next((p for p in self.root.find("HEADER").findall("PROPERTY") if p.get("NAME") == name), None)

    def record_last_annotation(self) -> None:
        """ELAN numbers the annotations it creates after ``lastUsedAnnotation``: keep it past ours."""
        prop = self.header_property("lastUsedAnnotation")
        if prop is None:
            prop = ET.Element("PROPERTY", {"NAME": "lastUsedAnnotation"})
            insert(self.root.find("HEADER"), [prop], HEADER_ORDER, 2, self.unit)
        prop.text = str(self.next["a"] - 1)

    def add(self, elements: list[ET.Element]) -> None:
        """Top-level elements (all of one tag), after the last of their kind or of the kinds before it."""
        insert(self.root, elements, DOCUMENT_ORDER, 1, self.unit)


def layout_unit(root: ET.Element) -> str | None:
    """The file's indentation unit (ELAN: 4 spaces, pympi: a tab); None: it has no layout to follow."""
    text = root.text or ""
    return text.rsplit("\n", 1)[1] if "\n" in text and not text.strip() else None


def _largest(ids, prefix: str) -> int:
    pattern = re.compile(rf"{prefix}(\d+)")
    return max((int(m.group(1)) for v in ids if (m := pattern.fullmatch(v))), default=0)


def _int(text: str | None) -> int:
    return int(text) if text and text.strip().isdigit() else 0


def insert(parent: ET.Element, elements: list[ET.Element], order: tuple, level: int, unit: str | None) -> None:
    """Insert ``elements`` (of one tag) into ``parent`` where ``order`` puts their tag, indented as the file is
    (``level`` units deep; no whitespace added to a file without layout).  Only whitespace tails change."""
    rank = order.index(elements[0].tag)
    index = 0
    for i, child in enumerate(parent):
        if child.tag in order[: rank + 1]:
            index = i + 1
    if unit is not None:
        inner, outer = "\n" + unit * level, "\n" + unit * (level - 1)
        for element in elements:
            ET.indent(element, unit, level)
            element.tail = inner
        if index == len(parent):  # appended: the closing tag's indentation moves to the last new element
            elements[-1].tail = parent[-1].tail if len(parent) else outer
            if len(parent):
                parent[-1].tail = inner
            else:
                parent.text = inner
    parent[index:index] = elements


# -- the spotted tiers --------------------------------------------------------------------------------------------


def add_spotted(document: Document, tier: SpottedTier) -> str:
    """Add one group (``B``, ``B-score``, ``B-k``, ``B-k-score``); returns the base name used."""
    width = max((len(row.get("candidates") or []) for row in tier.rows), default=0)

    def names(base: str) -> list[str]:
        alternatives = [name for k in range(2, width + 2) for name in (f"{base}-{k}", f"{base}-{k}-score")]
        return [base, f"{base}-score", *alternatives]

    existing = {t.get("TIER_ID") for t in document.root.findall("TIER")}
    base, n = tier.name, 2
    while any(name in existing for name in names(base)):
        base, n = f"{tier.name} ({n})", n + 1
    _ensure_constraint(document)
    gloss, score, alternative = (
        _linguistic_type(document, GLOSS_TYPE, None),
        _linguistic_type(document, SCORE_TYPE, ASSOCIATION),
        _linguistic_type(document, ALTERNATIVE_TYPE, ASSOCIATION),
    )
    top = _tier(base, gloss)
    scores = _tier(f"{base}-score", score, base)
    pairs = [
        (_tier(f"{base}-{k}", alternative, base), _tier(f"{base}-{k}-score", score, f"{base}-{k}"))
        for k in range(2, width + 2)
    ]
    slots = [slot for row in tier.rows for slot in _add_row(document, row, top, scores, pairs)]
    if slots:
        insert(document.root.find("TIME_ORDER"), slots, ("TIME_SLOT",), 2, document.unit)
    document.add([top, scores, *[t for pair in pairs for t in pair]])
    return base


def _add_row(document: Document, row: dict, top, scores, pairs) -> list[ET.Element]:
    """One row's annotations on the group's tiers; returns its two time slots."""
    start = int(row["start_ms"])
    # ELAN needs end > start, and the decoders' one-frame segments have start == end in the challenge's
    # convention (end_ms is the start of the sign's last frame): such a sign is written 1 ms long
    end = max(int(row["end_ms"]), start + 1)
    ts1, ts2 = document.new_id("ts"), document.new_id("ts")
    slots = [
        ET.Element("TIME_SLOT", {"TIME_SLOT_ID": ts1, "TIME_VALUE": str(start)}),
        ET.Element("TIME_SLOT", {"TIME_SLOT_ID": ts2, "TIME_VALUE": str(end)}),
    ]
    parent = _annotate(
        document, top, "ALIGNABLE_ANNOTATION", {"TIME_SLOT_REF1": ts1, "TIME_SLOT_REF2": ts2}, row["gloss"]
    )
    if row.get("score") is not None:
        _annotate(document, scores, "REF_ANNOTATION", {"ANNOTATION_REF": parent}, f"{row['score']:.3f}")
    for (glosses, alternative_scores), candidate in zip(pairs, row.get("candidates") or []):
        child = _annotate(document, glosses, "REF_ANNOTATION", {"ANNOTATION_REF": parent}, str(candidate["gloss"]))
        if candidate.get("score") is not None:
            value = f"{candidate['score']:.3f}"
            _annotate(document, alternative_scores, "REF_ANNOTATION", {"ANNOTATION_REF": child}, value)
    return slots


def _annotate(document: Document, tier: ET.Element, kind: str, refs: dict, value: str) -> str:
    """Append an annotation to ``tier`` (built here, laid out when inserted); returns its id."""
    annotation_id = document.new_id("a")
    annotation = ET.SubElement(ET.SubElement(tier, "ANNOTATION"), kind, {"ANNOTATION_ID": annotation_id, **refs})
    ET.SubElement(annotation, "ANNOTATION_VALUE").text = str(value)
    return annotation_id


def _tier(name: str, linguistic_type: str, parent: str | None = None) -> ET.Element:
    attrib = {"LINGUISTIC_TYPE_REF": linguistic_type, **({"PARENT_REF": parent} if parent else {}), "TIER_ID": name}
    return ET.Element("TIER", attrib)


def _linguistic_type(document: Document, wanted: str, constraint: str | None) -> str:
    """The id of a linguistic type ``wanted`` with ``constraint`` (None: a top-level, time-aligned one): the
    file's own when it has one that fits, else added (``wanted-2``... when the id is taken by another kind)."""
    types = {t.get("LINGUISTIC_TYPE_ID"): t for t in document.root.findall("LINGUISTIC_TYPE")}

    def fits(element: ET.Element) -> bool:  # a type bound to a vocabulary would flag every gloss outside it
        return element.get("CONSTRAINTS") == constraint and not element.get("CONTROLLED_VOCABULARY_REF")

    name, n = wanted, 2
    while name in types and not fits(types[name]):
        name, n = f"{wanted}-{n}", n + 1
    if name not in types:
        attrib = {"CONSTRAINTS": constraint} if constraint else {}  # in ELAN's (alphabetical) order
        attrib.update(GRAPHIC_REFERENCES="false", LINGUISTIC_TYPE_ID=name, TIME_ALIGNABLE=str(not constraint).lower())
        document.add([ET.Element("LINGUISTIC_TYPE", attrib)])
    return name


def _ensure_constraint(document: Document) -> None:
    """In EAF 3.0 a type's ``CONSTRAINTS`` is an IDREF to a ``CONSTRAINT`` element: add it when missing."""
    if not any(c.get("STEREOTYPE") == ASSOCIATION for c in document.root.findall("CONSTRAINT")):
        document.add([ET.Element("CONSTRAINT", {"DESCRIPTION": CONSTRAINTS[ASSOCIATION], "STEREOTYPE": ASSOCIATION})])


# -- media links --------------------------------------------------------------------------------------------------


def link_media(root: ET.Element, source_dir: Path | None, media: Path | None, target_dir: Path) -> None:
    """Media links of an ``.eaf`` written into ``target_dir``: the copied descriptors' links re-based (their
    relative URLs were relative to ``source_dir``), the spotted ``media`` linked (its descriptor updated, or
    one added).  A ``.pose`` is not linked: ELAN cannot play it."""
    from benchmark.datasets.records import POSE_EXT

    header = root.find("HEADER")
    media = Path(media).resolve() if media is not None and Path(media).suffix.lower() != POSE_EXT else None
    mime = MIME.get(media.suffix.lower(), "video/*") if media is not None else None
    links = [(d, "MEDIA_URL", "RELATIVE_MEDIA_URL") for d in header.findall("MEDIA_DESCRIPTOR")]
    links += [(d, "LINK_URL", "RELATIVE_LINK_URL") for d in header.findall("LINKED_FILE_DESCRIPTOR")]  # e.g. CSV
    found = False
    for descriptor, url, relative in links:
        linked = _linked_path(descriptor.get(url), descriptor.get(relative), source_dir)
        if linked is None:
            continue
        if media is not None and url == "MEDIA_URL" and linked == media:
            found = True
            descriptor.set("MIME_TYPE", descriptor.get("MIME_TYPE") or mime)
        descriptor.set(url, linked.as_uri())
        descriptor.set(relative, relative_url(linked, target_dir))
    if media is not None and not found:
        attrib = {"MEDIA_URL": media.as_uri(), "MIME_TYPE": mime, "RELATIVE_MEDIA_URL": relative_url(media, target_dir)}
        insert(header, [ET.Element("MEDIA_DESCRIPTOR", attrib)], HEADER_ORDER, 2, layout_unit(root))


def _linked_path(url: str | None, relative: str | None, source_dir: Path | None) -> Path | None:
    """Where a descriptor points, as ELAN resolves it: the relative URL beside the ``.eaf`` first, else the
    absolute one; None when neither names an existing file."""
    from benchmark.datasets.elan import url_path

    candidates = [Path(source_dir) / url_path(relative)] if relative and source_dir is not None else []
    candidates.append(Path(url_path(url or "")))
    return next((c.resolve() for c in candidates if str(c) and c.is_file()), None)


def relative_url(media: Path, target_dir: Path) -> str:
    """ELAN's form: ``./clip.mp4``, ``../videos/clip.mp4`` (POSIX separators, percent-encoded)."""
    from urllib.parse import quote

    rel = Path(os.path.relpath(media, Path(target_dir).resolve())).as_posix()
    return quote(rel if rel.startswith("../") else f"./{rel}", safe="/.-_~")
