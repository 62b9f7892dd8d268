"""Packed models: one zip file with all that :class:`~lipsound2.inference.Video2Speech` needs,
and a model card.

Members, each under a fixed name (the optional ones only where the model has them):

=================  ==================================================================
``meta.yaml``      pack format, versions, git hash, corpus, protocol, vocoder type, and
                   the sha256 of every other member
``README.md``      the model card
``config.yaml``    the training config (``train_config``)
``model.pth``      the model (a state dict)
``feats_stats.npz``  the mel statistics, when the model normalises its targets
``frontend.yaml``  the front-end settings: how a video is cropped, the mel, the rates
``inference.yaml``  stage 5's decoding options (precision, stop mode, seed, batch size)
``vocoder.yaml``   the vocoder settings
``vocoder.pth``    the HiFi-GAN checkpoint
``RESULTS.md``     the recipe's results
=================  ==================================================================

:func:`unpack` refuses, with a message naming the member, a pack whose members do not
match their sha256, hold a name outside that list (a path, ``..``) or come from a release it
cannot read; it never writes outside its cache folder.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch
import yaml

import lipsound2
from lipsound2.fileio.atomic import atomic_path
from lipsound2.frontend.config import SETTINGS_FILE, FrontendConfig, config_to_dict
from lipsound2.runtime.provenance import git_hash

PACK_FORMAT = "lipsound2-pack-1"
META = "meta.yaml"
CARD = "README.md"
RESULTS = "RESULTS.md"
# arguments of Video2Speech (and the inference config) -> member
MEMBERS = {
    "train_config": "config.yaml",
    "model_file": "model.pth",
    "stats_file": "feats_stats.npz",
    "frontend_config": SETTINGS_FILE,
    "inference_config": "inference.yaml",
    "vocoder_config": "vocoder.yaml",
    "vocoder_file": "vocoder.pth",
}
ALLOWED = {META, CARD, RESULTS, *MEMBERS.values()}
TEXT_SUFFIXES = (".yaml", ".md")
CHUNK = 1 << 20


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _major_minor(version: str) -> tuple[int, int]:
    """``(major, minor)`` of a version string; ``(-1, -1)`` when it has none (never compatible)."""
    match = re.match(r"(\d+)\.(\d+)", version)
    return (int(match[1]), int(match[2])) if match else (-1, -1)


def result_tables(markdown: str) -> str:
    """The tables of a RESULTS.md, each under its heading (the rows a model card shows)."""
    out, heading, in_table = [], None, False
    for line in markdown.splitlines():
        if line.startswith("|"):
            if heading is not None:
                out += [heading, ""]
                heading = None
            out.append(line)
            in_table = True
            continue
        if in_table:
            out.append("")
            in_table = False
        if line.startswith("#"):
            heading = "###" + line.lstrip("#")
    return "\n".join(out).strip() + "\n"


def model_card(meta: dict[str, Any], results: str | None, pack_name: str) -> str:
    """The pack's README.md: what the model is, how to run it, its results and its members."""
    where = meta["corpus"] or "an unnamed corpus"
    if meta["protocol"]:
        where += f", protocol {meta['protocol']}"
    lines = [
        f"# LipSound2 model: {where}",
        "",
        "Face video to speech, packed with `python -m lipsound2.bin.pack` on "
        f"{meta['created']} from lipsound2 {meta['lipsound2_version']} (git {meta['git_hash']}), "
        f"torch {meta['torch_version']}. Vocoder: {meta['vocoder_type']}.",
        "",
        "```python",
        "from lipsound2.inference import Video2Speech",
        "",
        f'v2s = Video2Speech.from_pretrained("{pack_name}")',
        "speech = v2s(face_track)  # uint8 (frames, size, size[, 3]) cropped as frontend.yaml says",
        "```",
        "",
    ]
    if results:
        lines += ["## Results (from the recipe's RESULTS.md)", "", result_tables(results)]
    lines += ["## Members", "", "| member | sha256 |", "| --- | --- |"]
    lines += [f"| `{name}` | `{digest}` |" for name, digest in meta["sha256"].items()]
    return "\n".join(lines) + "\n"


def write_pack(
    outpath: str | os.PathLike,
    files: dict[str, str | os.PathLike],
    vocoder_type: str,
    corpus: str = "",
    protocol: str = "",
    results: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Write the pack of ``files`` (keys of :data:`MEMBERS`; ``train_config`` and ``model_file``
    required) to ``outpath`` through a temporary name; its meta.

    Without a ``frontend_config`` the front end's defaults are written out, so that the pack
    always says how its model's video was cropped."""
    missing = {"train_config", "model_file"} - set(files)
    unknown = set(files) - set(MEMBERS)
    if missing or unknown:
        raise ValueError(f"pack: missing {sorted(missing)}, unknown {sorted(unknown)}")
    contents: dict[str, Path | bytes] = {MEMBERS[role]: Path(path) for role, path in files.items()}
    if "frontend_config" not in files:
        contents[MEMBERS["frontend_config"]] = yaml.safe_dump(config_to_dict(FrontendConfig())).encode()
    if results is not None:
        contents[RESULTS] = Path(results)
    meta = {
        "format": PACK_FORMAT,
        "created": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "lipsound2_version": lipsound2.__version__,
        "torch_version": str(torch.__version__),
        "git_hash": git_hash(),
        "corpus": corpus,
        "protocol": protocol,
        "vocoder_type": vocoder_type,
        "sha256": {
            name: hashlib.sha256(data).hexdigest() if isinstance(data, bytes) else sha256_of(data)
            for name, data in contents.items()
        },
    }
    results_text = Path(results).read_text(encoding="utf-8") if results is not None else None
    card = model_card(meta, results_text, Path(outpath).name)
    meta["sha256"][CARD] = hashlib.sha256(card.encode()).hexdigest()
    with atomic_path(outpath) as tmp, zipfile.ZipFile(tmp, "w") as zf:
        zf.writestr(META, yaml.safe_dump(meta, sort_keys=False), zipfile.ZIP_DEFLATED)
        zf.writestr(CARD, card, zipfile.ZIP_DEFLATED)
        for name, data in contents.items():
            compression = zipfile.ZIP_DEFLATED if name.endswith(TEXT_SUFFIXES) else zipfile.ZIP_STORED
            if isinstance(data, bytes):
                zf.writestr(name, data, compression)
            else:
                zf.write(data, name, compression)
    return meta


def _check_names(pack: Path, names: list[str]) -> None:
    for name in names:
        if "/" in name or "\\" in name or name in ("", ".", ".."):
            raise ValueError(f"{pack}: unsafe member name {name!r} (a path); refusing to unpack it")
        if name not in ALLOWED:
            known = ", ".join(sorted(ALLOWED))
            raise ValueError(f"{pack}: unexpected member {name!r}; a pack holds only {known}")
    if len(set(names)) != len(names):
        raise ValueError(f"{pack}: a member name occurs twice")


def read_meta(pack: Path, zf: zipfile.ZipFile) -> tuple[dict[str, Any], bytes]:
    """The pack's meta.yaml, checked against this installation's versions, and its bytes."""
    try:
        raw = zf.read(META)
    except KeyError:
        raise ValueError(f"{pack}: no {META}: not a pack written by lipsound2.bin.pack") from None
    meta = yaml.safe_load(raw)
    if not isinstance(meta, dict) or meta.get("format") != PACK_FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise ValueError(f"{pack}: {META}: pack format {found!r}; this lipsound2 reads {PACK_FORMAT!r}")
    theirs, ours = str(meta.get("lipsound2_version")), lipsound2.__version__
    if _major_minor(theirs) != _major_minor(ours):
        raise ValueError(
            f"{pack}: {META}: packed with lipsound2 {theirs}, this is lipsound2 {ours}; a packed model "
            f"loads only in the release series it was made with ({'.'.join(theirs.split('.')[:2])}.x)"
        )
    theirs_torch = str(meta.get("torch_version"))
    if _major_minor(theirs_torch) > _major_minor(torch.__version__):
        raise ValueError(
            f"{pack}: {META}: packed with torch {theirs_torch}, newer than this torch {torch.__version__}; "
            f"install torch>={theirs_torch.split('+')[0]}"
        )
    return meta, raw


def _matches(folder: Path, digests: dict[str, str]) -> bool:
    return all((folder / name).is_file() and sha256_of(folder / name) == d for name, d in digests.items())


def _extract(pack: Path, zf: zipfile.ZipFile, digests: dict[str, str], meta_raw: bytes, target: Path) -> None:
    """Extract and check every member into a temporary folder, then rename it to ``target``."""
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for name, expected in digests.items():
            digest = hashlib.sha256()
            try:
                with zf.open(name) as src, open(tmp / name, "wb") as dst:
                    for chunk in iter(lambda src=src: src.read(CHUNK), b""):
                        digest.update(chunk)
                        dst.write(chunk)
            except zipfile.BadZipFile as exc:
                raise ValueError(f"{pack}: member {name} is damaged: {exc}") from exc
            if digest.hexdigest() != expected:
                raise ValueError(
                    f"{pack}: member {name} does not match its sha256 in {META} "
                    "(the pack is damaged or was changed after packing); refusing to load it"
                )
        (tmp / META).write_bytes(meta_raw)
        if target.exists():  # an older, damaged extraction
            shutil.rmtree(target)
        try:
            os.replace(tmp, target)
        except OSError:  # another process unpacked it meanwhile
            if not _matches(target, digests):
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def unpack(
    pack: str | os.PathLike, cache_dir: str | os.PathLike | None = None
) -> tuple[dict[str, Path], dict[str, Any]]:
    """Check ``pack`` and unpack it into ``cache_dir`` (default ``<pack>.unpacked`` beside it),
    once per content; the unpacked files (argument name of Video2Speech -> path) and the meta.

    An earlier extraction is reused while its files still match their sha256."""
    pack = Path(pack)
    if not pack.is_file():
        raise FileNotFoundError(f"{pack}: no such pack")
    try:
        zf = zipfile.ZipFile(pack)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{pack}: not a lipsound2 pack (not a zip file)") from exc
    with zf:
        names = zf.namelist()
        _check_names(pack, names)
        meta, meta_raw = read_meta(pack, zf)
        if not isinstance(meta.get("sha256"), dict):
            raise ValueError(f"{pack}: {META} lists no sha256 of its members")
        digests = {str(name): str(d) for name, d in meta["sha256"].items()}
        _check_names(pack, list(digests))
        unlisted, missing = sorted(set(names) - {META} - set(digests)), sorted(set(digests) - set(names))
        if unlisted or missing:
            raise ValueError(
                f"{pack}: members not listed in {META}: {unlisted}; listed there but missing: {missing}"
            )
        root = Path(cache_dir) if cache_dir is not None else pack.with_name(pack.name + ".unpacked")
        target = root / hashlib.sha256(meta_raw).hexdigest()[:16]
        if not _matches(target, digests):
            try:
                root.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise OSError(f"cannot unpack {pack} into {root}: {exc}; give another cache_dir") from exc
            _extract(pack, zf, digests, meta_raw, target)
    files = {role: target / name for role, name in MEMBERS.items() if name in digests}
    return files, meta
