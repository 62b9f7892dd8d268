"""Pre-trained ASR archives of espnet2.bin.pack: unpacked safely, config pointed at the copies."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml
from espnet2.main_funcs.pack_funcs import pack

from lipsound2.asr.pretrained import resolve_pretrained, unpack


def _experiment(work: Path, absolute: bool) -> dict[str, str]:
    """A model file, its config and side files; the config names them as training was told."""
    (work / "exp").mkdir(parents=True)
    (work / "tokens").mkdir()
    (work / "exp" / "valid.acc.ave.pth").write_bytes(b"weights")
    (work / "tokens" / "bpe.model").write_bytes(b"sentencepiece")
    (work / "exp" / "feats_stats.npz").write_bytes(b"stats")
    prefix = f"{work}/" if absolute else ""
    config = {
        "token_type": "bpe",
        "bpemodel": f"{prefix}tokens/bpe.model",
        "normalize_conf": {"stats_file": f"{prefix}exp/feats_stats.npz"},
        "token_list": ["<blank>", "<unk>", "▁A", "<sos/eos>"],
        "frontend_conf": {"fs": "16k"},
    }
    (work / "exp" / "config.yaml").write_text(yaml.safe_dump(config, allow_unicode=True))
    return config


@pytest.mark.parametrize("suffix", [".zip", ".tar.gz"])
@pytest.mark.parametrize("absolute", [False, True])
def test_archive_resolves_to_unpacked_copies(tmp_path, suffix, absolute):
    work = tmp_path / "recipe dir"
    _experiment(work, absolute)
    archive = tmp_path / "packed" / f"asr model{suffix}"
    with contextlib.chdir(work):
        pack(
            files={"asr_model_file": "exp/valid.acc.ave.pth"},
            yaml_files={"asr_train_config": "exp/config.yaml"},
            outpath=archive,
            option=["tokens/bpe.model", "exp/feats_stats.npz"],
        )
    shutil.rmtree(work)  # the archive alone must do
    model, config_file = resolve_pretrained(str(archive), tmp_path / "unpacked")
    root = tmp_path / "unpacked"
    assert model == root / "exp" / "valid.acc.ave.pth" and model.read_bytes() == b"weights"
    config = yaml.safe_load(config_file.read_text())
    assert Path(config["bpemodel"]).read_bytes() == b"sentencepiece"
    assert Path(config["normalize_conf"]["stats_file"]).read_bytes() == b"stats"
    assert config["token_list"] == ["<blank>", "<unk>", "▁A", "<sos/eos>"]
    assert config["frontend_conf"] == {"fs": "16k"}
    # an unpacked dir is itself a model spec
    assert resolve_pretrained(str(root)) == (model, config_file)


def test_unpacked_once_and_again_when_the_archive_changes(tmp_path):
    work = tmp_path / "w"
    _experiment(work, absolute=False)
    archive = tmp_path / "asr.zip"
    with contextlib.chdir(work):
        pack({"asr_model_file": "exp/valid.acc.ave.pth"}, {"asr_train_config": "exp/config.yaml"}, archive)
    out = unpack(archive, tmp_path / "out")
    (out / "exp" / "valid.acc.ave.pth").write_bytes(b"touched")
    unpack(archive, out)
    assert (out / "exp" / "valid.acc.ave.pth").read_bytes() == b"touched"  # not unpacked again
    os.utime(archive, ns=(1, 1))
    unpack(archive, out)
    assert (out / "exp" / "valid.acc.ave.pth").read_bytes() == b"weights"


def test_default_unpack_dir_is_beside_the_archive(tmp_path):
    work = tmp_path / "w"
    _experiment(work, absolute=False)
    with contextlib.chdir(work):
        pack({"asr_model_file": "exp/valid.acc.ave.pth"}, {"asr_train_config": "exp/config.yaml"}, "../m.tgz")
    model, _ = resolve_pretrained(str(tmp_path / "m.tgz"))
    assert model == tmp_path / "m_unpacked" / "exp" / "valid.acc.ave.pth"


def _meta() -> bytes:
    return yaml.safe_dump(
        {"files": {"asr_model_file": "m.pth"}, "yaml_files": {"asr_train_config": "c.yaml"}}
    ).encode()


def _zip_with(path: Path, name: str) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("meta.yaml", _meta())
        zf.writestr(name, b"x")


def _tar_with(path: Path, member: tarfile.TarInfo) -> None:
    with tarfile.open(path, "w") as tf:
        info = tarfile.TarInfo("meta.yaml")
        info.size = len(_meta())
        tf.addfile(info, io.BytesIO(_meta()))
        tf.addfile(member, io.BytesIO(b"x" * member.size) if member.isfile() else None)


def _symlink(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
    return info


def _file(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = 1
    return info


@pytest.mark.parametrize(
    "make",
    [
        lambda p: _zip_with(p.with_suffix(".zip"), "../escaped"),
        lambda p: _zip_with(p.with_suffix(".zip"), "/abs/escaped"),
        lambda p: _tar_with(p.with_suffix(".tar"), _file("../escaped")),
        lambda p: _tar_with(p.with_suffix(".tar"), _file("/abs/escaped")),
        lambda p: _tar_with(p.with_suffix(".tar"), _symlink("m.pth")),
    ],
    ids=["zip ..", "zip absolute", "tar ..", "tar absolute", "tar symlink"],
)
def test_members_leaving_the_unpack_dir_are_refused(tmp_path, make):
    make(tmp_path / "bad")
    (archive,) = tmp_path.glob("bad.*")
    with pytest.raises(ValueError, match="bad"):
        unpack(archive, tmp_path / "sub" / "out")
    assert not (tmp_path / "escaped").exists() and not (tmp_path / "sub" / "escaped").exists()
    assert not (tmp_path / "sub").exists() or not any((tmp_path / "sub").iterdir())  # no half unpack


def test_archive_without_meta_is_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "plain.zip", "w") as zf:
        zf.writestr("model.pth", b"x")
    with pytest.raises(ValueError, match="meta.yaml"):
        unpack(tmp_path / "plain.zip", tmp_path / "out")
    assert not (tmp_path / "out").exists()
