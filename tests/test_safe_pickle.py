"""The restricted unpickler: plain data and numpy arrays load, anything that imports or calls is refused unrun."""

from __future__ import annotations

import os
import pickle
import pickletools

import numpy as np
import pytest

from benchmark.errors import DataError
from benchmark.storage.safe_pickle import (
    dump_annotations,
    load_annotations,
    safe_load,
    safe_loads,
    validate_annotations,
)


class _Evil:
    """Unpickling this runs ``os.system`` with a shell command that creates a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class _EvalEvil:
    def __reduce__(self):
        return (eval, ("__import__('os').getcwd()",))


def test_plain_pickle_loads(tmp_path):
    data = {"p01_n000": [[3, 0, 400], [7, 480, 960]], "p01_n001": []}
    path = tmp_path / "gt.pkl"
    path.write_bytes(pickle.dumps(data, protocol=4))
    assert load_annotations(path) == data


@pytest.mark.parametrize("how", ["list", "tuple-rows"])
def test_malicious_pickle_is_refused_and_never_executed(tmp_path, how):
    marker = tmp_path / "PWNED"
    evil = _Evil(marker)
    payload = {"v": [[1, 0, 400], evil]} if how == "list" else {"v": ((1, 0, 400),), "x": evil}
    path = tmp_path / "pred.pkl"
    path.write_bytes(pickle.dumps(payload, protocol=4))
    with pytest.raises(DataError) as err:
        load_annotations(path)
    assert not marker.exists(), "the payload ran"
    msg = str(err.value)
    assert str(path) in msg
    assert "system" in msg and ("posix" in msg or "os" in msg)  # names the global
    assert "Nothing from the file was executed" in msg
    # the payload is live: a plain pickle.load does run it (harmless: it only creates the marker file)
    pickle.loads(path.read_bytes())
    assert marker.exists()


def test_eval_payload_refused(tmp_path):
    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps({"v": _EvalEvil()}, protocol=2))
    with pytest.raises(DataError, match=r"(__builtin__|builtins)\.eval"):
        safe_load(path)


def test_refuses_arbitrary_classes_even_harmless_ones(tmp_path):
    import collections

    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps(collections.OrderedDict(v=[[1, 0, 40]])))
    with pytest.raises(DataError, match=r"collections\.OrderedDict"):
        load_annotations(path)


def test_codecs_encode_only_latin1():
    # protocol 0-2 pickles use _codecs.encode(text, 'latin1') for bytes; other codecs are refused
    evil = b"c_codecs\nencode\n(Vabc\nVrot13\ntR."
    with pytest.raises(DataError, match="latin1"):
        safe_loads(evil)
    ok = b"c_codecs\nencode\n(Vabc\nVlatin1\ntR."
    assert safe_loads(ok) == b"abc"


@pytest.mark.parametrize("protocol", range(0, pickle.HIGHEST_PROTOCOL + 1))
def test_numpy_arrays_and_scalars_load_every_protocol(tmp_path, protocol):
    data = {
        "a": [[np.int64(3), np.int32(0), np.float64(400.0)]],
        "b": np.array([[1, 40, 80], [2, 120, 200]], dtype=np.int64),
        "c": [np.array([5, 0, 40], dtype=np.int16)],
        "d": np.zeros((0, 3), dtype=np.int64),
    }
    path = tmp_path / "p.pkl"
    path.write_bytes(pickle.dumps(data, protocol=protocol))
    out = load_annotations(path)
    assert out == {"a": [[3, 0, 400]], "b": [[1, 40, 80], [2, 120, 200]], "c": [[5, 0, 40]], "d": []}
    assert all(type(x) is int for rows in out.values() for r in rows for x in r)


def test_not_a_pickle_and_missing_file(tmp_path):
    bad = tmp_path / "bad.pkl"
    bad.write_bytes(b"this is not a pickle")
    with pytest.raises(DataError, match="bad.pkl: not a readable pickle"):
        load_annotations(bad)
    trunc = tmp_path / "trunc.pkl"
    trunc.write_bytes(pickle.dumps({"v": [[1, 2, 3]]})[:-3])
    with pytest.raises(DataError, match="trunc.pkl"):
        load_annotations(trunc)
    with pytest.raises(DataError, match="nope.pkl: file not found"):
        load_annotations(tmp_path / "nope.pkl")
    with pytest.raises(DataError, match="is a directory"):
        load_annotations(tmp_path)


@pytest.mark.parametrize(
    "data, pattern",
    [
        ([[1, 2, 3]], r"src: expected a dict"),
        ({1: [[1, 0, 40]]}, r"src: video ids must be strings"),
        ({"v": "abc"}, r"src: video 'v': expected a list"),
        ({"v": [[1, 0, 40], [1, 0]]}, r"src: video 'v', item 1: expected 3 numbers"),
        ({"v": [[1, 0, 40], 7]}, r"src: video 'v', item 1: expected \[class, start_ms, end_ms\]"),
        ({"v": [[1, 0.5, 40]]}, r"src: video 'v', item 0, start_ms: expected an integer .* 0\.5"),
        ({"v": [[1, float("nan"), 40]]}, r"item 0, start_ms"),
        ({"v": [[True, 0, 40]]}, r"item 0, class: expected an integer, got the boolean"),
        ({"v": [[1, "0", 40]]}, r"item 0, start_ms: expected an integer, got str"),
        ({"w": [], "v": [[1, 0, 40], [2, 400, 360]]}, r"src: video 'v', item 1: end_ms 360 is before start_ms 400"),
        ({"v": np.zeros((2, 3, 1))}, r"video 'v': expected a list .* shape"),
    ],
)
def test_validation_errors_name_source_video_and_item(data, pattern):
    with pytest.raises(DataError, match=pattern):
        validate_annotations(data, "src")


def test_validation_converts_integral_floats_and_numpy():
    out = validate_annotations({"v": [(np.int64(2), 40.0, np.float32(80.0))]}, "x")
    assert out == {"v": [[2, 40, 80]]} and all(type(x) is int for x in out["v"][0])
    assert validate_annotations({"v": [[1, 40, 40]]}) == {"v": [[1, 40, 40]]}  # zero length is fine


def test_dump_is_atomic_plain_and_roundtrips(tmp_path):
    path = tmp_path / "sub" / "pred.pkl"
    data = {"v": np.array([[1, 0, 40]]), "w": [(np.int64(2), 80.0, 120)]}
    assert dump_annotations(data, path) == path
    raw = path.read_bytes()
    assert raw[:2] == b"\x80\x04"  # protocol 4
    ops = {op.name for op, _, _ in pickletools.genops(raw)}
    assert not ops & {"GLOBAL", "STACK_GLOBAL", "REDUCE", "INST", "OBJ", "NEWOBJ"}  # plain data only
    assert pickle.loads(raw) == {"v": [[1, 0, 40]], "w": [[2, 80, 120]]}
    assert sorted(p.name for p in path.parent.iterdir()) == ["pred.pkl"]  # no temp file left
    # invalid data: nothing written, old file untouched
    with pytest.raises(DataError):
        dump_annotations({"v": [[1, 50, 40]]}, path)
    assert path.read_bytes() == raw
    assert sorted(p.name for p in path.parent.iterdir()) == ["pred.pkl"]
