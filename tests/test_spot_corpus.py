"""``bench spot`` over a corpus: every input checked first, ``--on-bad-video``, outputs written per input and a
killed or repeated batch resumed, outputs readable by others, non-ASCII glosses kept readable, media linked.

One real tracked run (``tests/test_spot.py``'s fixture: skeleton-only, tiny, ELAN ``.pose`` corpus) serves
every test here."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

try:
    from tests.test_spot import HELD, bench, trained  # trained: the fixture, used by name
except ImportError:  # pragma: no cover
    from test_spot import HELD, bench, trained  # noqa: F401

GOOD = ("alpha", "beta")
BAD = {"broken.mp4": b"this is not a video" * 50, "empty.mp4": b"", "garbled.pose": b"\x00\x01 not a pose file"}


def corpus(root: Path, name: str) -> Path:
    """Two usable ``.pose`` inputs (with their ``.eaf``) and three bad files, in a folder of their own."""
    folder = root / name
    folder.mkdir()
    sources = [root / "held" / HELD, root / "corpus" / "p01_n000"]
    for stem, source in zip(GOOD, sources):
        shutil.copy(source.with_suffix(".pose"), folder / f"{stem}.pose")
        shutil.copy(source.with_suffix(".eaf"), folder / f"{stem}.eaf")
    for file, data in BAD.items():
        (folder / file).write_bytes(data)
    return folder


def stamps(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if not p.name.startswith(".")}


def test_without_skip_nothing_starts_and_every_bad_input_is_listed(trained):
    root, _, summary = trained
    inputs = corpus(root, "mixed-fail")
    args = ("spot", "--run", summary["run_id"], str(inputs), "--out", "fail-out", "--no-progress")
    out = bench(root, *args, check=False)
    assert out.returncode == 1 and "Traceback" not in out.stderr, out.stderr
    for name in BAD:
        assert str(inputs / name) in out.stderr, (name, out.stderr)
    assert "--on-bad-video skip" in out.stderr
    assert "preprocess" not in out.stderr  # nothing started
    assert not (root / "fail-out").exists()


def test_skip_spots_the_others_and_a_second_run_resumes(trained):
    root, names, summary = trained
    inputs = corpus(root, "mixed-skip")
    out_dir = root / "skip-out"
    args = ("spot", "--run", summary["run_id"], str(inputs), "--out", str(out_dir), "--on-bad-video", "skip")
    first = bench(root, *args, "--no-progress")
    for name in BAD:
        assert str(inputs / name) in first.stderr, first.stderr
    assert "skipping 3 of 5 inputs" in first.stderr
    expected = {f"{stem}.{fmt}" for stem in GOOD for fmt in ("eaf", "json")}
    assert set(stamps(out_dir)) == expected
    assert {str(out_dir / name) for name in expected} == set(first.stdout.split())
    for stem in GOOD:
        document = json.loads((out_dir / f"{stem}.json").read_text(encoding="utf-8"))
        assert document["video"] == stem and len(document["pipeline"]) == 64
        assert set(document["input_sha256"]) == {"pose"}
        assert all(s["gloss"] in names for s in document["segments"])

    # the same command again: nothing recomputed, nothing rewritten, the same files listed
    before = stamps(out_dir)
    again = bench(root, *args, "--no-progress")
    assert "2 of 2 inputs already spotted" in again.stderr and "preprocess" not in again.stderr, again.stderr
    assert stamps(out_dir) == before
    assert set(again.stdout.split()) == set(first.stdout.split())

    # a batch killed after its first input (the second's stamp missing): only the second is spotted again
    (out_dir / f".{GOOD[1]}.spot.json").unlink()
    resumed = bench(root, *args, "--no-progress")
    assert "1 of 2 inputs already spotted" in resumed.stderr, resumed.stderr
    after = stamps(out_dir)
    assert all(after[f"{GOOD[0]}.{fmt}"] == before[f"{GOOD[0]}.{fmt}"] for fmt in ("eaf", "json"))
    assert all(after[f"{GOOD[1]}.{fmt}"] > before[f"{GOOD[1]}.{fmt}"] for fmt in ("eaf", "json"))

    # another tier is another result: spotted again
    retier = bench(root, *args, "--tier", "Other", "--no-progress")
    assert "already spotted" not in retier.stderr


def test_outputs_are_readable_like_any_file_the_user_writes(trained):
    root, _, summary = trained
    old = os.umask(0o022)
    try:
        bench(root, "spot", "--run", summary["run_id"], str(root / "held"), "--out", "modes", "--no-progress",
              "--format", "eaf", "--format", "json", "--format", "csv")  # fmt: skip
    finally:
        os.umask(old)
    files = list((root / "modes").iterdir())
    assert len(files) == 4  # eaf, json, csv and the resume stamp
    for path in files:
        assert path.stat().st_mode & 0o777 == 0o644, (path, oct(path.stat().st_mode))


def test_non_ascii_glosses_stay_readable_in_json(trained):
    root, _, summary = trained
    bundle = root / "unicode-pipeline"
    shutil.copytree(Path(summary["pipeline"]), bundle)
    classes = json.loads((bundle / "classes.json").read_text())
    glosses = ["STRAßE", "ÇA-VA", "手話"][: len(classes)]
    (bundle / "classes.json").write_text(json.dumps(glosses), encoding="utf-8")
    bench(root, "spot", "--run", str(bundle), str(root / "held"), "--out", "unicode", "--format", "json")
    text = (root / "unicode" / f"{HELD}.json").read_text(encoding="utf-8")
    segments = json.loads(text)["segments"]
    assert segments, "nothing spotted in the held-back file"
    for segment in segments:
        assert segment["gloss"] in glosses and f'"gloss": "{segment["gloss"]}"' in text
    assert "\\u" not in text


@pytest.fixture
def eaf_with_media(tmp_path):
    """An ``.eaf`` in ``src/`` linking ``./clip.mp4`` (beside it) and ``../audio/voice.wav``."""
    import pympi

    (tmp_path / "src").mkdir()
    (tmp_path / "audio").mkdir()
    (tmp_path / "src" / "clip.mp4").write_bytes(b"x")
    (tmp_path / "audio" / "voice.wav").write_bytes(b"x")
    eaf = pympi.Elan.Eaf()
    eaf.add_linked_file("file:///nowhere/clip.mp4", relpath="./clip.mp4", mimetype="video/mp4")
    eaf.add_linked_file("file:///nowhere/voice.wav", relpath="../audio/voice.wav", mimetype="audio/x-wav")
    return tmp_path, eaf


def _descriptors(root) -> list[dict]:
    return [dict(d.attrib) for d in root.find("HEADER").findall("MEDIA_DESCRIPTOR")]


def test_a_copied_eaf_links_the_media_spotted_and_keeps_its_other_links(eaf_with_media):
    from benchmark.spot import link_media
    from benchmark.spot.eaf import read_eaf

    root, eaf = eaf_with_media
    eaf.to_file(str(root / "src" / "session.eaf"))
    document = read_eaf(root / "src" / "session.eaf")
    clip = root / "src" / "clip.mp4"
    link_media(document, root / "src", clip, root / "out" / "deep")
    descriptors = _descriptors(document)
    by_type = {d["MIME_TYPE"]: d for d in descriptors}
    assert len(descriptors) == 2  # the clip's descriptor updated, not a second one added
    assert by_type["video/mp4"]["MEDIA_URL"] == clip.resolve().as_uri()
    assert by_type["video/mp4"]["RELATIVE_MEDIA_URL"] == "../../src/clip.mp4"
    assert by_type["audio/x-wav"]["RELATIVE_MEDIA_URL"] == "../../audio/voice.wav"  # re-based on the new folder


def test_an_eaf_without_the_media_gets_a_link(tmp_path):
    from benchmark.spot import link_media
    from benchmark.spot.eaf import new_eaf

    video = tmp_path / "a b.mp4"
    video.write_bytes(b"x")
    document = new_eaf()
    link_media(document, None, video, tmp_path)
    [descriptor] = _descriptors(document)
    assert descriptor["MEDIA_URL"] == video.resolve().as_uri()
    assert descriptor["RELATIVE_MEDIA_URL"] == "./a%20b.mp4" and descriptor["MIME_TYPE"] == "video/mp4"
