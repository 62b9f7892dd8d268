import numpy as np
import pytest

from lipsound2.fileio.ark import ArkWriter, array_length, load_array, read_scp
from lipsound2.fileio.table import read_table, write_table


def test_ark_roundtrip_float_and_uint8(tmp_path):
    feats = np.random.default_rng(0).standard_normal((7, 80)).astype(np.float32)
    video = np.random.default_rng(1).integers(0, 256, (5, 4, 4, 3), dtype=np.uint8)
    with ArkWriter(tmp_path / "a b" / "x.ark", tmp_path / "a b" / "x.scp") as w:
        w["utt1"] = feats
        w["utt2"] = video
    loaded = read_scp(tmp_path / "a b" / "x.scp")
    np.testing.assert_array_equal(loaded["utt1"], feats)
    assert loaded["utt2"].dtype == np.uint8
    np.testing.assert_array_equal(loaded["utt2"], video)


def test_int32_units_round_trip_as_kaldi_int_vectors(tmp_path):
    units = {"u1": np.array([0, 199, 7, 7], np.int32), "u2": np.arange(300, dtype=np.int32) % 200}
    with ArkWriter(tmp_path / "units.ark", tmp_path / "units.scp") as w:
        for key, value in units.items():
            w[key] = value
    specs = read_table(tmp_path / "units.scp")
    for key, spec in specs.items():
        loaded = load_array(spec)
        assert loaded.dtype == np.int32
        np.testing.assert_array_equal(loaded, units[key])
        assert array_length(spec) == len(units[key])
        # Kaldi's own binary int vector (what copy-int-vector reads), not a NumPy blob
        path, offset = spec.rsplit(":", 1)
        with open(path, "rb") as f:
            f.seek(int(offset))
            assert f.read(3) == b"\0B\4"


def test_ark_writer_leaves_nothing_when_interrupted(tmp_path):
    with pytest.raises(RuntimeError), ArkWriter(tmp_path / "x.ark", tmp_path / "x.scp") as w:
        w["utt1"] = np.zeros((2, 2), np.float32)
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_scp_offsets_point_at_each_entry(tmp_path):
    with ArkWriter(tmp_path / "x.ark", tmp_path / "x.scp") as w:
        for i in range(3):
            w[f"u{i}"] = np.full((i + 1, 3), i, np.float32)
    for i, spec in enumerate(read_table(tmp_path / "x.scp").values()):
        assert load_array(spec).shape == (i + 1, 3)


def test_table_sorted_and_validated(tmp_path):
    write_table(tmp_path / "text", {"b": "two words", "a": "one", "B": "upper"})
    assert (tmp_path / "text").read_text().splitlines() == ["B upper", "a one", "b two words"]
    (tmp_path / "dup").write_text("a x\na y\n")
    with pytest.raises(ValueError, match="dup:2: duplicate key 'a'"):
        read_table(tmp_path / "dup")
