"""``bench review``: the static review page (and subtitles) of spotted signs, read from a ``bench spot`` folder,
a run folder's ``review.json`` or a folder of ``.eaf`` files; checked as HTML and, where Chromium is installed,
in a real headless browser (tests/cdp.py)."""

from __future__ import annotations

import json
import os
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from benchmark.commands.main import cli
from benchmark.commands.review import render_srt, srt_time
from benchmark.reports.review import collect
from tests.cdp import CHROMIUM, Browser

VIDEO = Path(__file__).parent / "fixtures" / "test_video.mp4"  # 1.94 s


def bench(*args):
    return CliRunner().invoke(cli, ["review", *map(str, args)], catch_exceptions=False)


class Page(HTMLParser):
    """The start tags of a page, each with the ``data-file`` of the section it is in."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict, str | None]] = []
        self.section: str | None = None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section" and "data-file" in attrs:
            self.section = attrs["data-file"]
        self.tags.append((tag, attrs, self.section))

    def segments(self, file_id: str, lane: str) -> list[dict]:
        return [
            a
            for _, a, s in self.tags
            if s == file_id and "segment" in (a.get("class") or "").split() and a.get("data-lane") == lane
        ]

    def files(self) -> list[str]:
        return [a["data-file"] for t, a, _ in self.tags if t == "section" and "data-file" in a]


def eaf_file(path: Path, tiers: dict, refs: dict | None = None, media=None, spotted: tuple = ()) -> Path:
    """An .eaf of ``{tier: [(start, end, value)]}`` (those in ``spotted`` of bench spot's type ``signspot-gloss``),
    ``refs`` ``{tier: (parent, [(time inside, value)])}`` as symbolic associations (scores, alternatives),
    ``media`` ``(absolute url, relative url)``."""
    import pympi

    eaf = pympi.Elan.Eaf()
    eaf.remove_tier("default")
    eaf.add_linguistic_type("signspot-gloss")
    eaf.add_linguistic_type("signspot-score", constraints="Symbolic_Association", timealignable=False)
    for name, rows in tiers.items():
        eaf.add_tier(name, ling="signspot-gloss" if name in spotted else "default-lt")
        for start, end, value in rows:
            eaf.add_annotation(name, start, end, value)
    for name, (parent, rows) in (refs or {}).items():
        eaf.add_tier(name, ling="signspot-score", parent=parent)
        for time, value in rows:
            eaf.add_ref_annotation(name, parent, time, value)
    if media:
        eaf.add_linked_file(media[0], relpath=media[1], mimetype="video/mp4")
    eaf.to_file(str(path))
    return path


@pytest.fixture
def spotted(tmp_path) -> Path:
    """A `bench spot` folder: a.eaf (human tier Gloss, scores, an alternative, a video linked relatively),
    b.eaf (spotted tier only, an undecodable b.mp4 beside it), c.json (no .eaf; candidates)."""
    videos = tmp_path / "videos"
    videos.mkdir()
    shutil.copy(VIDEO, videos / "clip one.mp4")
    folder = tmp_path / "spotted"
    folder.mkdir()
    human = [(100, 600, "HOUSE"), (1000, 1600, "<b>&X")]
    # HOUSE: IoU 0.92 (TP, found); CAR: no human CAR (FP); <b>&X: IoU 200/600 = 0.33 (FP, and the human one missed)
    spot = [(120, 580, "HOUSE"), (700, 900, "CAR"), (1000, 1200, "<b>&X")]
    refs = {  # as bench spot writes them: scores and alternatives associated with the spotted annotations
        "spotted-score": ("spotted", [(300, "0.87"), (800, "0.4"), (1100, "0.25")]),
        "spotted-2": ("spotted", [(300, "HOME")]),
        "spotted-2-score": ("spotted-2", [(300, "0.1")]),
    }
    eaf_file(
        folder / "a.eaf",
        {"Gloss": human, "spotted": spot, "other run": [(0, 50, "CAR")]},  # `bench spot --also`'s tier: not human
        refs,
        media=((videos / "clip one.mp4").as_uri(), "../videos/clip%20one.mp4"),
        spotted=("spotted", "other run"),
    )
    eaf_file(folder / "b.eaf", {"spotted": [(1500, 1900, "TREE")]}, spotted=("spotted",))
    (folder / "b.mp4").write_bytes(b"not a video")
    candidates = [{"class_id": 3, "gloss": "TREE", "score": 0.5}, {"class_id": 1, "gloss": "CAR", "score": 0.2}]
    segment = {"class_id": 3, "gloss": "TREE", "start_ms": 500, "end_ms": 900, "score": 0.5, "candidates": candidates}
    doc = {"video": "c", "media": str(tmp_path / "c.pose"), "pipeline": "x", "input_sha256": "0", "segments": [segment]}
    (folder / "c.json").write_text(json.dumps(doc))
    return folder


def test_the_page_shows_every_file_its_lanes_and_the_marks(spotted, tmp_path):
    out = tmp_path / "out" / "review.html"
    result = bench(spotted, "--out", out)
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(out)
    assert "no human tier in 1 file(s)" in result.stderr and "b.eaf" in result.stderr
    page = Page(out.read_text())
    assert page.files() == ["a", "b", "c"]
    counts = {f: (len(page.segments(f, "human")), len(page.segments(f, "spotted"))) for f in "abc"}
    assert counts == {"a": (2, 3), "b": (0, 1), "c": (0, 1)}
    human = {a["data-gloss"]: a["data-status"] for a in page.segments("a", "human")}
    assert human == {"HOUSE": "found", "<b>&X": "miss"}
    spot = {a["data-gloss"]: a for a in page.segments("a", "spotted")}
    assert {g: a["data-status"] for g, a in spot.items()} == {"HOUSE": "TP", "CAR": "FP", "<b>&X": "FP"}
    assert (spot["CAR"]["data-start-ms"], spot["CAR"]["data-end-ms"]) == ("700", "900")
    assert spot["HOUSE"]["data-score"] == "0.870" and spot["HOUSE"]["data-alternatives"] == "HOME (0.100)"
    assert "score 0.870" in spot["HOUSE"]["title"] and "HOME (0.100)" in spot["HOUSE"]["title"]
    assert "bad" in spot["CAR"]["class"].split() and "bad" not in spot["HOUSE"]["class"].split()
    (tree,) = page.segments("c", "spotted")
    assert tree["data-score"] == "0.500" and tree["data-alternatives"] == "CAR (0.200)"  # from the JSON
    assert page.segments("b", "spotted")[0]["data-status"] == ""  # no human tier: no marks
    summary = {a["class"]: None for t, a, s in page.tags if s is None and t == "b" and "class" in a}
    assert set(summary) == {"n-tp", "n-fp", "n-miss"}
    text = out.read_text()
    assert '<b class="n-tp">1</b> TP, <b class="n-fp">2</b> FP, <b class="n-miss">1</b> missed' in text
    assert "IoU &ge; 0.5" in text and "not the official metric" in text


def test_iou_option_moves_the_marks(spotted, tmp_path):
    review = collect(spotted, threshold=0.3)
    a = review.files[0]
    assert [s.status for s in a.spotted] == ["TP", "FP", "TP"]  # <b>&X: IoU 0.33 >= 0.3
    assert [h.status for h in a.human] == ["found", "found"]
    out = tmp_path / "r.html"
    assert bench(spotted, "--out", out, "--iou", "0.3").exit_code == 0
    assert '<b class="n-miss">0</b> missed' in out.read_text() and "IoU &ge; 0.3" in out.read_text()


def test_user_text_is_escaped_and_the_page_is_self_contained(spotted, tmp_path):
    out = tmp_path / "out" / "review.html"
    result = bench(spotted, "--out", out, "--title", "</script><script>alert(1)</script>")
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "<b>&X" not in text and "&lt;b&gt;&amp;X" in text
    assert "<script>alert(1)" not in text and "&lt;/script&gt;&lt;script&gt;alert(1)" in text
    assert text.count("<script") == 1  # the page's own, inline
    assert "http://" not in text and "https://" not in text  # no CDN, no external resource
    assert '<link rel="stylesheet"' not in text and 'src="//' not in text
    page = Page(text)
    sources = [a["src"] for t, a, _ in page.tags if t == "video"]
    assert sources == ["../videos/clip%20one.mp4", "../spotted/b.mp4"]  # relative to the page, percent-encoded
    assert (out.parent / "../videos/clip one.mp4").resolve() == (tmp_path / "videos" / "clip one.mp4").resolve()
    assert "c.pose" not in text or "not playable" in text  # c's media does not exist: no video for c


@pytest.fixture
def run_folder(tmp_path) -> Path:
    folder = tmp_path / "run"
    folder.mkdir()
    videos = {
        "v1": {
            "media": str(VIDEO),
            "ground_truth": [[0, 0, 500], [1, 1000, 1500]],
            "segments": [[0, 40, 520, 0.9], [2, 1600, 1800, 0.3], [1, 1400, 1900, 0.6]],
        },
        "v2": {"media": None, "ground_truth": [], "segments": [[1, 100, 200, 0.5]]},
    }
    data = {"classes": ["HELLO", "THANKS", "<i>"], "fps": 25.0, "videos": videos}
    (folder / "review.json").write_text(json.dumps(data))
    return folder


def test_a_run_folder_shows_ground_truth_against_the_predictions(run_folder, tmp_path):
    out = tmp_path / "run.html"
    result = bench(run_folder, "--out", out)
    assert result.exit_code == 0, result.output
    page = Page(out.read_text())
    assert page.files() == ["v1", "v2"]
    assert [a["data-status"] for a in page.segments("v1", "human")] == ["found", "miss"]
    assert [(a["data-gloss"], a["data-status"]) for a in page.segments("v1", "spotted")] == [
        ("HELLO", "TP"),
        ("THANKS", "FP"),  # IoU 100/900 with the true THANKS
        ("<i>", "FP"),
    ]
    assert (len(page.segments("v2", "human")), len(page.segments("v2", "spotted"))) == (0, 1)
    every = [a for f in ("v1", "v2") for lane in ("human", "spotted") for a in page.segments(f, lane)]
    thanks = {a["style"].rsplit("background-color:", 1)[1] for a in every if a["data-gloss"] == "THANKS"}
    assert len([a for a in every if a["data-gloss"] == "THANKS"]) == 3 and len(thanks) == 1  # a colour per gloss
    legend = out.read_text().split('<ul class="legend">')[1].split("</ul>")[0]
    assert legend.index("HELLO") < legend.index("THANKS") < legend.index("&lt;i&gt;")  # the run's class order
    assert [a["src"] for t, a, _ in page.tags if t == "video"] == [Path(os.path.relpath(VIDEO, tmp_path)).as_posix()]


def test_srt_cues_exactly(spotted, tmp_path):
    assert srt_time(3_723_004) == "01:02:03,004" and srt_time(0) == "00:00:00,000"
    out = tmp_path / "subs"
    result = bench(spotted, "--format", "srt", "--out", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["a.srt", "b.srt", "c.srt", "clip one.srt"]
    assert (out / "a.srt").read_text() == (
        "1\n00:00:00,120 --> 00:00:00,580\nHOUSE (0.87)\n\n"
        "2\n00:00:00,700 --> 00:00:00,900\nCAR (0.40)\n\n"
        "3\n00:00:01,000 --> 00:00:01,200\n<b>&X (0.25)\n\n"
        "4\n00:00:01,000 --> 00:00:01,600\n[miss] <b>&X\n"
    )
    assert (out / "clip one.srt").read_text() == (out / "a.srt").read_text()  # named after the video too
    assert (out / "b.srt").read_text() == "1\n00:00:01,500 --> 00:00:01,900\nTREE\n"
    assert not list(out.glob("*.mp4"))  # videos are never copied
    single = collect(spotted).files[2]
    assert render_srt(single) == "1\n00:00:00,500 --> 00:00:00,900\nTREE (0.50)\n"
    bad = bench(spotted, "--format", "srt", "--out", tmp_path / "one.srt")
    assert bad.exit_code != 0 and "give a folder" in bad.output


def test_tier_options_on_a_folder_of_eaf_files(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    tiers = {
        "GlossR": [(0, 400, "A")],
        "GlossL": [(500, 900, "B")],
        "Translation": [(0, 900, "a sentence")],
        "SIGN": [(0, 380, "A"), (500, 600, "B")],
    }
    eaf_file(folder / "x.eaf", tiers)
    auto = collect(folder)
    assert auto.files[0].human is None and auto.files[0].spotted_tier == "SIGN"
    assert "GlossR, GlossL, Translation" in auto.warnings[0] and "--tier" in auto.warnings[0]
    named = collect(folder, tier="Gloss*")
    assert named.files[0].human_tier == "GlossR, GlossL"
    assert [(h.gloss, h.status) for h in named.files[0].human] == [("A", "found"), ("B", "miss")]
    assert collect(folder, tier="Gloss*", spotted_tier="Translation").files[0].spotted[0].gloss == "a sentence"
    (folder / "y.json").write_text(json.dumps({"video": "y", "segments": [{"gloss": "A", "start_ms": 0, "end_ms": 9}]}))
    mixed = collect(folder, tier="Gloss*", spotted_tier="SIGN")  # a JSON alone has no tier: its segments are shown
    assert [(f.file_id, len(f.spotted), f.spotted_tier) for f in mixed.files] == [("x", 2, "SIGN"), ("y", 1, "y.json")]
    result = bench(folder, "--out", tmp_path / "x.html", "--tier", "Nope")
    assert result.exit_code != 0 and "--tier 'Nope'" in result.output and str(folder) in result.output


def test_unusable_folders_are_clear_errors(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    result = bench(empty, "--out", tmp_path / "r.html")
    assert result.exit_code != 0 and str(empty) in result.output and "bench spot" in result.output
    assert "run folder" in result.output
    plain = tmp_path / "plain"
    plain.mkdir()
    eaf_file(plain / "p.eaf", {"Gloss": [(0, 100, "A")]})
    result = bench(plain, "--out", tmp_path / "r.html")
    assert result.exit_code != 0 and "--spotted-tier" in result.output
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "review.json").write_text('{"videos": 3}')
    result = bench(broken, "--out", tmp_path / "r.html")
    assert result.exit_code != 0 and "review.json" in result.output
    assert not (tmp_path / "r.html").exists()


CLICK_AND_READ = """(async () => {
  const section = document.querySelector('section.file[data-file="a"]');
  const video = section.querySelector("video");
  const car = section.querySelector('.segment[data-lane="spotted"][data-gloss="CAR"]');
  car.click();
  const afterSegment = video.currentTime;
  const rows = [...section.querySelectorAll("tr.row")];
  const row = rows.find(r => r.dataset.gloss === "<b>&X" && r.dataset.lane === "human");
  row.click();
  const afterRow = video.currentTime;
  section.querySelector('th[data-key="score"]').click();
  const byScore = [...section.querySelectorAll("tr.row")].map(r => r.dataset.score);
  await new Promise(r => setTimeout(r, 300));
  return {
    files: [...document.querySelectorAll("section.file")].map(s => s.dataset.file),
    afterSegment, afterRow, byScore,
    rows: section.querySelectorAll("tr.row").length,
    bold: section.querySelectorAll(".timeline b, table b").length,
    glossText: row.cells[3].textContent,
    current: car.classList.contains("current") ? "car" : section.querySelector(".segment.current").dataset.gloss,
    brokenNote: document.querySelector('section.file[data-file="b"]').textContent.includes("cannot play"),
  };
})()"""


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (apt-get install chromium)")
@pytest.mark.timeout(60)
def test_the_page_in_headless_chromium(spotted, tmp_path):
    out = tmp_path / "out" / "review.html"
    assert bench(spotted, "--out", out).exit_code == 0
    with Browser.start(tmp_path) as browser:
        browser.navigate(out.as_uri())
        browser.settle(1.0)  # b.mp4 fails to decode meanwhile: the page notes it, no error
        seen = browser.evaluate(CLICK_AND_READ)
        browser.settle(0.3)
        assert browser.errors == []
    assert seen["files"] == ["a", "b", "c"]
    assert abs(seen["afterSegment"] - 0.7) < 0.05  # the CAR segment starts at 700 ms
    assert abs(seen["afterRow"] - 1.0) < 0.05
    assert seen["byScore"] == ["0.250", "0.400", "0.870", "", ""]  # blanks (human signs) last
    assert seen["rows"] == 5 and seen["bold"] == 0 and seen["glossText"] == "<b>&X"
    assert seen["current"] == "<b>&X" and seen["brokenNote"] is True
