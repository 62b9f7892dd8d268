"""Find the model file and training config of a pre-trained ESPnet ASR (stage 7's base model).

A pre-trained model comes as a model file with ``config.yaml`` beside it, an ESPnet
experiment dir, a model-zoo tag (downloaded by ``espnet_model_zoo``, online), or an archive
written by ``espnet2.bin.pack asr`` (.zip or .tar[.gz|.bz2|.xz]). An archive holds
``meta.yaml``, which names the model file and the training config among its members, and
the files under the paths they had when packed (leading ``/`` dropped); the config refers
to its side files (bpe model, feature statistics) by those same paths. An archive is
unpacked once into a directory, member by member after checking that none leaves it
(absolute names, ``..``, links and devices are refused), and the config's references to
packed files are pointed at the unpacked copies. Nothing is fetched for an archive.
"""

from __future__ import annotations

import logging
import os
import shutil
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO, Any

import yaml

from lipsound2.fileio.atomic import atomic_open
from lipsound2.fileio.yamlio import load_yaml

log = logging.getLogger(__name__)

ARCHIVE_SUFFIXES = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
META = "meta.yaml"
SOURCE = ".source"  # which archive (path, size, mtime) a directory was unpacked from
MODEL_FILES = ("valid.acc.ave.pth", "valid.acc.best.pth", "valid.loss.best.pth", "latest.pth")


def find_model_file(expdir: str | os.PathLike) -> Path:
    """The model file an ESPnet training run left, best first."""
    for name in MODEL_FILES:
        path = Path(expdir) / name
        if path.exists():
            return path
    raise FileNotFoundError(f"{expdir}: none of {', '.join(MODEL_FILES)}")


def is_archive(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a file named like an archive ``espnet2.bin.pack`` writes."""
    return Path(path).is_file() and Path(path).name.lower().endswith(ARCHIVE_SUFFIXES)


def archive_stem(path: str | os.PathLike) -> str:
    """The archive's name without its archive suffix (``asr.tar.gz`` -> ``asr``)."""
    name = Path(path).name
    for suffix in sorted(ARCHIVE_SUFFIXES, key=len, reverse=True):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def packed_name(path: str) -> str:
    """The member name a path recorded in ``meta.yaml`` or the config has in the archive."""
    return PurePosixPath(path.lstrip("/")).as_posix()


def _safe_name(archive: Path, name: str) -> PurePosixPath:
    rel = PurePosixPath(name)
    if not name or rel.is_absolute() or ".." in rel.parts or rel.as_posix() in ("", "."):
        raise ValueError(f"{archive}: member {name!r} would be written outside the unpack dir")
    return rel


def _members(archive: Path) -> Iterator[tuple[PurePosixPath, IO[bytes] | None]]:
    """``(name, file object)`` of every member; ``None`` for a directory."""
    if archive.name.lower().endswith(".zip"):
        with zipfile.ZipFile(archive) as zf:
            for info in zf.infolist():
                rel = _safe_name(archive, info.filename.rstrip("/") if info.is_dir() else info.filename)
                if (info.external_attr >> 16) & 0o170000 == 0o120000:
                    raise ValueError(f"{archive}: member {info.filename!r} is a link; refused")
                if info.is_dir():
                    yield rel, None
                else:
                    with zf.open(info) as f:
                        yield rel, f
        return
    with tarfile.open(archive) as tf:
        for member in tf:
            rel = _safe_name(archive, member.name)
            if member.isdir():
                yield rel, None
            elif member.isfile():
                f = tf.extractfile(member)
                assert f is not None
                with f:
                    yield rel, f
            else:
                raise ValueError(f"{archive}: member {member.name!r} is not a regular file; refused")


def _packed_member(value: str, members: set[str]) -> str | None:
    """The member a config string names: the same path, else the one member its path ends with.

    ``espnet2.bin.pack`` stores a file under its path relative to where it ran, while the
    config keeps the path training was given, which may be absolute.
    """
    if not value or value.startswith(("http://", "https://")):
        return None
    name = packed_name(value)
    if name in members:
        return name
    parts = PurePosixPath(name).parts
    ends = [m for m in members if parts[-len(PurePosixPath(m).parts) :] == PurePosixPath(m).parts]
    return ends[0] if len(ends) == 1 else None


def _repoint(value: Any, members: set[str], root: Path) -> Any:
    """``value`` with every string naming a packed file replaced by its unpacked path."""
    if isinstance(value, dict):
        return {k: _repoint(v, members, root) for k, v in value.items()}
    if isinstance(value, list):
        return [_repoint(v, members, root) for v in value]
    if isinstance(value, str) and (member := _packed_member(value, members)) is not None:
        return str(root / member)
    return value


def _source_id(archive: Path) -> str:
    st = archive.stat()
    return f"{archive.resolve()} {st.st_size} {st.st_mtime_ns}\n"


def unpack(archive: str | os.PathLike, outdir: str | os.PathLike) -> Path:
    """Unpack an ``espnet2.bin.pack`` archive into ``outdir`` (once; again if the archive changed)."""
    archive, outdir = Path(archive), Path(outdir)
    source = _source_id(archive)
    done = (outdir / META).is_file() and (outdir / SOURCE).is_file()
    if done and (outdir / SOURCE).read_text(encoding="utf-8") == source:
        return outdir
    if outdir.exists() and not (outdir / SOURCE).is_file():
        raise FileExistsError(f"{outdir} exists and was not unpacked from an archive; not overwriting it")
    log.info("unpacking %s into %s", archive, outdir)
    tmp = outdir.with_name(f".{outdir.name}.tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        names: set[str] = set()
        for rel, f in _members(archive):
            dest = tmp / rel
            if f is None:
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            with open(dest, "wb") as out:
                shutil.copyfileobj(f, out)
            names.add(rel.as_posix())
        if META not in names:
            raise ValueError(f"{archive}: no {META}; not an archive of espnet2.bin.pack")
        meta = load_yaml(tmp / META)
        for config in (meta.get("yaml_files") or {}).values():
            path = tmp / packed_name(str(config))
            if not path.is_file():
                raise FileNotFoundError(f"{archive}: {META} names {config}, which is not packed")
            repointed = _repoint(load_yaml(path), names, outdir.resolve())
            with atomic_open(path, "w", encoding="utf-8") as out:
                yaml.safe_dump(repointed, out, allow_unicode=True, sort_keys=False)
        (tmp / SOURCE).write_text(source, encoding="utf-8")
        old = outdir.with_name(f".{outdir.name}.old{os.getpid()}")
        if outdir.exists():
            os.replace(outdir, old)
        os.replace(tmp, outdir)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return outdir


def packed_files(unpacked: Path) -> tuple[Path, Path]:
    """(model file, training config) of an unpacked archive, as its ``meta.yaml`` names them."""
    meta = load_yaml(unpacked / META)
    try:
        model = unpacked / packed_name(str(meta["files"]["asr_model_file"]))
        config = unpacked / packed_name(str(meta["yaml_files"]["asr_train_config"]))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{unpacked / META}: no asr_model_file or asr_train_config") from exc
    for path in (model, config):
        if not path.is_file():
            raise FileNotFoundError(f"{unpacked / META} names {path}, which is missing")
    return model, config


def resolve_pretrained(spec: str, unpack_dir: str | os.PathLike | None = None) -> tuple[Path, Path]:
    """(model file, config.yaml) of a pre-trained model.

    ``spec``: a model file with its config beside it, an experiment dir, an unpacked or packed
    ``espnet2.bin.pack`` archive (unpacked into ``unpack_dir``, by default a directory beside
    the archive named after it), or a model-zoo tag.
    """
    path = Path(spec)
    if is_archive(path):
        target = Path(unpack_dir) if unpack_dir else path.with_name(archive_stem(path) + "_unpacked")
        path = unpack(path, target)
    if path.is_dir():
        if (path / META).is_file():
            return packed_files(path)
        path = find_model_file(path)
    if path.is_file():
        for config in (path.parent / "config.yaml", path.with_suffix(".yaml")):
            if config.is_file():
                return path, config
        raise FileNotFoundError(f"{spec}: no config.yaml beside the model file")
    try:
        from espnet_model_zoo.downloader import ModelDownloader
    except ImportError as exc:
        raise FileNotFoundError(
            f"{spec}: not a file, and espnet_model_zoo (needed for zoo tags, online) is not installed"
        ) from exc
    files = ModelDownloader().download_and_unpack(spec)
    return Path(files["asr_model_file"]), Path(files["asr_train_config"])
