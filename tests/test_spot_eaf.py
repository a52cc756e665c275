"""`benchmark.spot.eaf`: spotted tiers written into an ELAN file by editing its XML, the original kept whole."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime
from pathlib import Path

import pytest

from benchmark.errors import BenchError, DataError
from benchmark.spot.eaf import SpottedTier, write_spotted_eaf

XSD = Path(__file__).parent / "fixtures" / "EAFv3.0.xsd"
XSI_LOCATION = "{http://www.w3.org/2001/XMLSchema-instance}noNamespaceSchemaLocation"

ROWS = [
    {
        "start_ms": 100,
        "end_ms": 500,
        "gloss": "HOUSE",
        "score": 0.87,
        "candidates": [{"gloss": "HOME", "score": 0.1}, {"gloss": "ROOF", "score": 0.02}],
    },
    {"start_ms": 800, "end_ms": 800, "gloss": "CAR", "score": 0.5, "candidates": [{"gloss": "BUS", "score": 0.3}]},
    {"start_ms": 1000, "end_ms": 1400, "gloss": "TREE", "score": None},
]

# A hand-written EAF 3.0 file with what pympi drops or does not model: a LICENSE, an unknown header property,
# CVE_REF/LANG_REF/EXT_REF on annotations, a Symbolic_Subdivision tier, a multilingual CV, a LEXICON_REF, a
# REF_LINK_SET, LOCALE/LANGUAGE, an EXTERNAL_REF whose id (`a6`) is the next annotation id, a linguistic type
# `signspot-score` of another constraint (so a fresh one is needed), a comment, and no Symbolic_Association.
HAND = """<?xml version="1.0" encoding="UTF-8"?>
<ANNOTATION_DOCUMENT AUTHOR="annotator" DATE="2024-03-01T10:00:00.000+01:00" FORMAT="3.0" VERSION="3.0"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:noNamespaceSchemaLocation="http://www.mpi.nl/tools/elan/EAFv3.0.xsd">
    <LICENSE LICENSE_URL="https://creativecommons.org/licenses/by/4.0/">CC BY 4.0</LICENSE>
    <HEADER MEDIA_FILE="" TIME_UNITS="milliseconds">
        <MEDIA_DESCRIPTOR MEDIA_URL="file:///nowhere/clip.mp4" MIME_TYPE="video/mp4" RELATIVE_MEDIA_URL="./clip.mp4"/>
        <PROPERTY NAME="URN">urn:nl-mpi-tools-elan-eaf:0c7d9e3a-1111-2222-3333-444455556666</PROPERTY>
        <PROPERTY NAME="x-project">corpus 7</PROPERTY>
        <PROPERTY NAME="lastUsedAnnotation">4</PROPERTY>
    </HEADER>
    <TIME_ORDER>
        <TIME_SLOT TIME_SLOT_ID="ts1" TIME_VALUE="0"/>
        <TIME_SLOT TIME_SLOT_ID="ts2" TIME_VALUE="400"/>
        <TIME_SLOT TIME_SLOT_ID="ts3" TIME_VALUE="600"/>
        <TIME_SLOT TIME_SLOT_ID="ts4" TIME_VALUE="900"/>
    </TIME_ORDER>
    <!-- kept: the annotator's note -->
    <TIER LANG_REF="nld" LINGUISTIC_TYPE_REF="gloss-cv" PARTICIPANT="S1" TIER_ID="Gloss">
        <ANNOTATION>
            <ALIGNABLE_ANNOTATION ANNOTATION_ID="a1" CVE_REF="cve-house" EXT_REF="er1" LANG_REF="nld"
                TIME_SLOT_REF1="ts1" TIME_SLOT_REF2="ts2">
                <ANNOTATION_VALUE>HUIS</ANNOTATION_VALUE>
            </ALIGNABLE_ANNOTATION>
        </ANNOTATION>
        <ANNOTATION>
            <ALIGNABLE_ANNOTATION ANNOTATION_ID="a2" CVE_REF="cve-car" TIME_SLOT_REF1="ts3" TIME_SLOT_REF2="ts4">
                <ANNOTATION_VALUE>AUTO</ANNOTATION_VALUE>
            </ALIGNABLE_ANNOTATION>
        </ANNOTATION>
    </TIER>
    <TIER LINGUISTIC_TYPE_REF="signspot-score" PARENT_REF="Gloss" TIER_ID="Parts">
        <ANNOTATION>
            <REF_ANNOTATION ANNOTATION_ID="a3" ANNOTATION_REF="a1" LANG_REF="nld">
                <ANNOTATION_VALUE>hand</ANNOTATION_VALUE>
            </REF_ANNOTATION>
        </ANNOTATION>
        <ANNOTATION>
            <REF_ANNOTATION ANNOTATION_ID="a4" ANNOTATION_REF="a1" PREVIOUS_ANNOTATION="a3">
                <ANNOTATION_VALUE>move</ANNOTATION_VALUE>
            </REF_ANNOTATION>
        </ANNOTATION>
    </TIER>
    <LINGUISTIC_TYPE CONTROLLED_VOCABULARY_REF="signs" GRAPHIC_REFERENCES="false" LEXICON_REF="lex1"
        LINGUISTIC_TYPE_ID="gloss-cv" TIME_ALIGNABLE="true"/>
    <LINGUISTIC_TYPE CONSTRAINTS="Symbolic_Subdivision" GRAPHIC_REFERENCES="false"
        LINGUISTIC_TYPE_ID="signspot-score" TIME_ALIGNABLE="false"/>
    <LOCALE COUNTRY_CODE="NL" LANGUAGE_CODE="nl"/>
    <LANGUAGE LANG_DEF="http://cdb.iso.org/lg/CDB-00138580-001" LANG_ID="nld" LANG_LABEL="Dutch (nld)"/>
    <CONSTRAINT DESCRIPTION="Symbolic subdivision of a parent annotation." STEREOTYPE="Symbolic_Subdivision"/>
    <CONTROLLED_VOCABULARY CV_ID="signs">
        <DESCRIPTION LANG_REF="nld">Gebaren</DESCRIPTION>
        <CV_ENTRY_ML CVE_ID="cve-house"><CVE_VALUE DESCRIPTION="a house" LANG_REF="nld">HUIS</CVE_VALUE></CV_ENTRY_ML>
        <CV_ENTRY_ML CVE_ID="cve-car"><CVE_VALUE LANG_REF="nld">AUTO</CVE_VALUE></CV_ENTRY_ML>
    </CONTROLLED_VOCABULARY>
    <LEXICON_REF DATCAT_ID="x" LEXICON_ID="ngt" LEXICON_NAME="NGT" LEX_REF_ID="lex1" NAME="Signbank" TYPE="Signbank"
        URL="https://signbank.example.org"/>
    <REF_LINK_SET LINK_SET_ID="set1" LINK_SET_NAME="coreference">
        <CROSS_REF_LINK DIRECTIONALITY="unidirectional" REF1="a2" REF2="a1" REF_LINK_ID="rl1">same</CROSS_REF_LINK>
    </REF_LINK_SET>
    <EXTERNAL_REF EXT_REF_ID="er1" TYPE="resource_url" VALUE="https://example.org/huis"/>
    <EXTERNAL_REF EXT_REF_ID="a6" TYPE="resource_url" VALUE="https://example.org/trap"/>
</ANNOTATION_DOCUMENT>
"""


def validate(path: Path) -> None:
    import xmlschema

    xmlschema.XMLSchema(str(XSD)).validate(str(path))


def tiers_of(path: Path) -> dict[str, ET.Element]:
    return {t.get("TIER_ID"): t for t in ET.parse(path).getroot().findall("TIER")}


def pympi_eaf(path: Path, tiers=("Gloss",), types=()) -> Path:
    """A file as pympi writes it (EAF 2.8 labelled, tab-indented)."""
    import pympi

    eaf = pympi.Elan.Eaf()
    for type_id in types:
        eaf.add_linguistic_type(type_id)
    for name in tiers:
        eaf.add_tier(name)
        eaf.add_annotation(name, 0, 400, "X")
    eaf.add_linked_file("file:///nowhere/clip.mp4", relpath="./clip.mp4", mimetype="video/mp4")
    path.parent.mkdir(parents=True, exist_ok=True)
    eaf.to_file(str(path))
    return path


@pytest.fixture
def hand(tmp_path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "clip.mp4").write_bytes(b"x")
    source = tmp_path / "src" / "clip.eaf"
    source.write_text(HAND, encoding="utf-8")
    validate(source)  # the fixture itself is a valid EAF 3.0 file
    return source


def test_a_new_document_validates_and_pympi_reads_every_tier(tmp_path):
    import pympi

    video = tmp_path / "my clip.mp4"
    video.write_bytes(b"x")
    path, used = write_spotted_eaf(tmp_path / "out" / "a.eaf", None, video, [SpottedTier("spotted", ROWS)])
    assert used == {"spotted": "spotted"}
    validate(path)
    root = ET.parse(path).getroot()
    assert (root.get("VERSION"), root.get("FORMAT"), root.get("AUTHOR")) == ("3.0", "3.0", "signspot-bench")
    assert root.get(XSI_LOCATION) == "http://www.mpi.nl/tools/elan/EAFv3.0.xsd"
    assert datetime.fromisoformat(root.get("DATE")).tzinfo is not None
    header = root.find("HEADER")
    assert header.attrib == {"MEDIA_FILE": "", "TIME_UNITS": "milliseconds"}
    [descriptor] = header.findall("MEDIA_DESCRIPTOR")
    assert descriptor.get("MEDIA_URL") == video.resolve().as_uri()
    assert descriptor.get("RELATIVE_MEDIA_URL") == "../my%20clip.mp4" and descriptor.get("MIME_TYPE") == "video/mp4"
    assert path.read_text(encoding="utf-8").startswith("<?xml version='1.0' encoding='UTF-8'?>")

    eaf = pympi.Elan.Eaf(str(path))
    assert sorted(eaf.get_annotation_data_for_tier("spotted")) == [
        (100, 500, "HOUSE"),
        (800, 801, "CAR"),
        (1000, 1400, "TREE"),
    ]
    assert sorted(eaf.get_ref_annotation_data_for_tier("spotted-score")) == [
        (100, 500, "0.870", "HOUSE"),
        (800, 801, "0.500", "CAR"),
    ]  # TREE has no score: no annotation
    assert sorted(eaf.get_ref_annotation_data_for_tier("spotted-2")) == [
        (100, 500, "HOME", "HOUSE"),
        (800, 801, "BUS", "CAR"),
    ]
    # pympi gives the value of the time-aligned ancestor; the XML below checks the direct parent
    assert sorted(eaf.get_ref_annotation_data_for_tier("spotted-2-score")) == [
        (100, 500, "0.100", "HOUSE"),
        (800, 801, "0.300", "CAR"),
    ]
    assert eaf.get_ref_annotation_data_for_tier("spotted-3") == [(100, 500, "ROOF", "HOUSE")]
    assert eaf.get_ref_annotation_data_for_tier("spotted-3-score") == [(100, 500, "0.020", "HOUSE")]
    values = {a.get("ANNOTATION_ID"): a.findtext("ANNOTATION_VALUE") for a in root.iter("REF_ANNOTATION")}
    values.update({a.get("ANNOTATION_ID"): a.findtext("ANNOTATION_VALUE") for a in root.iter("ALIGNABLE_ANNOTATION")})
    tiers = tiers_of(path)
    for tier, pairs in [
        ("spotted-2-score", [("0.100", "HOME"), ("0.300", "BUS")]),
        ("spotted-3-score", [("0.020", "ROOF")]),
    ]:
        refs = [a.find("REF_ANNOTATION") for a in tiers[tier]]
        assert [(r.findtext("ANNOTATION_VALUE"), values[r.get("ANNOTATION_REF")]) for r in refs] == pairs
    assert set(eaf.get_tier_names()) == {
        "spotted",
        "spotted-score",
        "spotted-2",
        "spotted-2-score",
        "spotted-3",
        "spotted-3-score",
    }
    for child, parent in [("spotted-score", "spotted"), ("spotted-2", "spotted"), ("spotted-2-score", "spotted-2")]:
        assert eaf.get_parameters_for_tier(child)["PARENT_REF"] == parent
    assert "PARENT_REF" not in eaf.get_parameters_for_tier("spotted")
    types = {t.get("LINGUISTIC_TYPE_ID"): t.attrib for t in root.findall("LINGUISTIC_TYPE")}
    assert types["signspot-gloss"]["TIME_ALIGNABLE"] == "true" and "CONSTRAINTS" not in types["signspot-gloss"]
    for name in ("signspot-score", "signspot-alternative"):
        assert types[name]["CONSTRAINTS"] == "Symbolic_Association" and types[name]["TIME_ALIGNABLE"] == "false"
    annotation_ids = [a.get("ANNOTATION_ID") for a in root.iter() if a.get("ANNOTATION_ID")]
    assert len(annotation_ids) == len(set(annotation_ids)) == 3 + 2 + 2 + 2 + 1 + 1
    last = max(int(i[1:]) for i in annotation_ids)
    assert [p.text for p in header.findall("PROPERTY") if p.get("NAME") == "lastUsedAnnotation"] == [str(last)]


def test_a_one_frame_row_is_written_one_millisecond_long(tmp_path):
    row = {"start_ms": 1240, "end_ms": 1240, "gloss": "X", "score": 0.9}
    path, _ = write_spotted_eaf(tmp_path / "a.eaf", None, None, [SpottedTier("SIGN", [row])])
    validate(path)
    slots = [int(s.get("TIME_VALUE")) for s in ET.parse(path).getroot().iter("TIME_SLOT")]
    assert slots == [1240, 1241]


def test_a_copy_keeps_every_original_element_and_the_source_is_unchanged(hand, tmp_path):
    import pympi

    before = hand.read_bytes()
    original = ET.parse(hand).getroot()
    kept = [ET.tostring(c) for c in original if c.tag not in ("HEADER", "TIME_ORDER")]
    slots = [ET.tostring(_no_tail(s)) for s in original.iter("TIME_SLOT")]
    annotations = [ET.tostring(a) for a in original.iter("ANNOTATION")]

    path, used = write_spotted_eaf(
        tmp_path / "out" / "deep" / "clip.eaf", hand, hand.parent / "clip.mp4", [SpottedTier("spotted", ROWS)]
    )
    assert hand.read_bytes() == before
    validate(path)
    root = ET.parse(path).getroot()
    comments = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
    comments.feed(path.read_bytes())
    assert "kept: the annotator's note" in ET.tostring(comments.close(), encoding="unicode")
    assert {k: root.get(k) for k in ("AUTHOR", "DATE", "VERSION", "FORMAT", XSI_LOCATION)} == {
        k: original.get(k) for k in ("AUTHOR", "DATE", "VERSION", "FORMAT", XSI_LOCATION)
    }
    after = [ET.tostring(c) for c in root if c.tag not in ("HEADER", "TIME_ORDER")]
    assert _subsequence(kept, after)  # every original element, in its order, byte for byte
    assert [ET.tostring(_no_tail(s)) for s in root.iter("TIME_SLOT")][: len(slots)] == slots
    assert _subsequence(annotations, [ET.tostring(a) for a in root.iter("ANNOTATION")])
    properties = {p.get("NAME"): p.text for p in root.find("HEADER").findall("PROPERTY")}
    assert properties["x-project"] == "corpus 7" and properties["URN"].startswith("urn:nl-mpi-tools-elan-eaf:")
    [descriptor] = root.find("HEADER").findall("MEDIA_DESCRIPTOR")  # the spotted media's own, re-based
    assert descriptor.get("RELATIVE_MEDIA_URL") == "../../src/clip.mp4"
    assert descriptor.get("MEDIA_URL") == (hand.parent / "clip.mp4").resolve().as_uri()

    new_ids = {a.get("ANNOTATION_ID") for a in root.iter() if a.get("ANNOTATION_ID")} - {"a1", "a2", "a3", "a4"}
    # after the largest `a<n>` xsd:ID in use (all share one space): the EXTERNAL_REF's a6, not only lastUsedAnnotation
    assert "a6" not in new_ids and min(int(i[1:]) for i in new_ids) == 7
    assert sorted(int(s.get("TIME_SLOT_ID")[2:]) for s in root.iter("TIME_SLOT"))[4] == 5
    assert [c.get("STEREOTYPE") for c in root.findall("CONSTRAINT")] == ["Symbolic_Subdivision", "Symbolic_Association"]
    tiers = tiers_of(path)
    assert tiers["spotted-score"].get("LINGUISTIC_TYPE_REF") == "signspot-score-2"  # the file's has another constraint
    assert used == {"spotted": "spotted"}
    eaf = pympi.Elan.Eaf(str(path))
    assert sorted(eaf.get_ref_annotation_data_for_tier("spotted-score"))[0] == (100, 500, "0.870", "HOUSE")
    assert (
        '\n    <TIER LINGUISTIC_TYPE_REF="signspot-gloss" TIER_ID="spotted">\n        <ANNOTATION>' in path.read_text()
    )


def test_a_copy_of_a_pympi_file_keeps_its_version_and_validates(tmp_path):
    import pympi

    source = pympi_eaf(tmp_path / "src" / "clip.eaf", types=["signspot-gloss"])
    before = source.read_bytes()
    path, _ = write_spotted_eaf(tmp_path / "out.eaf", source, None, [SpottedTier("spotted", ROWS)])
    assert source.read_bytes() == before
    validate(path)  # an EAF 2.8 file stays 2.8 (the annotator's), and 3.0 is a superset
    root = ET.parse(path).getroot()
    assert (root.get("VERSION"), root.get(XSI_LOCATION)) == ("2.8", "http://www.mpi.nl/tools/elan/EAFv2.8.xsd")
    assert [t.get("LINGUISTIC_TYPE_ID") for t in root.findall("LINGUISTIC_TYPE")].count("signspot-gloss") == 1  # reused
    eaf = pympi.Elan.Eaf(str(path))
    assert eaf.get_annotation_data_for_tier("Gloss") == [(0, 400, "X")]
    assert len(eaf.get_annotation_data_for_tier("spotted")) == 3


def test_a_taken_name_moves_the_whole_group(tmp_path):
    source = pympi_eaf(tmp_path / "src" / "clip.eaf", tiers=["spotted", "SIGN-2"])
    tiers = [SpottedTier("spotted", ROWS), SpottedTier("SIGN", ROWS)]
    path, used = write_spotted_eaf(tmp_path / "out.eaf", source, None, tiers)
    validate(path)
    assert used == {"spotted": "spotted (2)", "SIGN": "SIGN (2)"}  # SIGN-2 is one of SIGN's group's names
    found = tiers_of(path)
    assert {"spotted (2)", "spotted (2)-score", "spotted (2)-2", "SIGN (2)", "SIGN (2)-3-score"} <= set(found)
    assert found["spotted (2)-score"].get("PARENT_REF") == "spotted (2)"
    assert found["spotted (2)-2-score"].get("PARENT_REF") == "spotted (2)-2"
    assert [a.findtext(".//ANNOTATION_VALUE") for a in found["spotted"]] == ["X"]  # the original, untouched


def test_a_pose_is_not_linked(tmp_path):
    pose = tmp_path / "a.pose"
    pose.write_bytes(b"x")
    path, _ = write_spotted_eaf(tmp_path / "a.eaf", None, pose, [SpottedTier("spotted", ROWS)])
    assert ET.parse(path).getroot().find("HEADER").findall("MEDIA_DESCRIPTOR") == []


@pytest.mark.parametrize(
    "text",
    [
        "<ANNOTATION_DOCUMENT><HEADER>",  # cut short
        "not xml at all",
        '<?xml version="1.0"?><CV_RESOURCE/>',  # XML, not an annotation document
        '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>\n'
        "<ANNOTATION_DOCUMENT><HEADER/><TIME_ORDER/><TIER TIER_ID='&lol2;' LINGUISTIC_TYPE_REF='x'/>"
        "</ANNOTATION_DOCUMENT>",
    ],
)
def test_a_bad_file_is_a_data_error_naming_it(tmp_path, text):
    source = tmp_path / "bad.eaf"
    source.write_text(text)
    with pytest.raises(DataError, match="bad.eaf") as caught:
        write_spotted_eaf(tmp_path / "out.eaf", source, None, [SpottedTier("spotted", ROWS)])
    assert ("DOCTYPE" if "DOCTYPE" in text else "opens in ELAN") in str(caught.value)
    assert not (tmp_path / "out.eaf").exists()


def test_the_source_is_never_the_file_written(hand):
    with pytest.raises(BenchError, match="overwrite"):
        write_spotted_eaf(hand, hand, None, [SpottedTier("spotted", ROWS)])


def _no_tail(element: ET.Element) -> ET.Element:
    """The element without the whitespace after it (appending after the last child moves that)."""
    element.tail = None
    return element


def _subsequence(items: list, within: list) -> bool:
    rest = iter(within)
    return all(any(item == other for other in rest) for item in items)
