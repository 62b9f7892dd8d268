"""Readers of the corpora's release layouts: each returns the utterances it finds as entries.

A file that cannot be used (empty, no transcript) is skipped with a warning naming it; the
rest is read. Paths are absolute; they may contain spaces.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from lipsound2.corpus.datadir import Entry, utt_id
from lipsound2.corpus.grid import grid_words

log = logging.getLogger(__name__)

GRID_SILENCES = {"sil", "sp"}
VIDEO_SUFFIXES = (".mpg", ".mp4", ".avi", ".mov")


def _speaker_key(name: str) -> tuple[int, str]:
    digits = re.sub(r"\D", "", name)
    return (int(digits) if digits else 0, name)


def read_align_words(path: Path) -> list[str]:
    """The words of a GRID ``.align`` file (``start end word`` lines; sil/sp dropped; CRLF ok)."""
    words = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) != 3 or not (fields[0].isdigit() and fields[1].isdigit()):
            raise ValueError(f"{path}:{lineno}: not a 'start end word' line: {line!r}")
        if fields[2] not in GRID_SILENCES:
            words.append(fields[2])
    return words


def grid_speakers(root: Path) -> list[str]:
    """GRID speaker folders (``s1`` ... ``s34``) under ``root``, in numeric order."""
    return sorted(
        (p.name for p in root.iterdir() if p.is_dir() and re.fullmatch(r"s\d+", p.name)), key=_speaker_key
    )


def read_grid(root: Path, speakers: list[str] | None = None) -> list[Entry]:
    """GRID in either release layout, per speaker:

    (a) ``sN/<utt>.mpg`` (or ``sN/video/<utt>.mpg``) with ``alignments/sN/<utt>.align`` and,
        when present, ``audio_25k/sN/<utt>.wav`` (also ``audio_50k``);
    (b) ``sN/video/mpg_6000/<utt>.mpg`` with ``sN/align/<utt>.align``.
    The transcript comes from the alignment, else from the file name (GRID names encode it).
    """
    root = root.resolve()
    entries: list[Entry] = []
    for spk in speakers or grid_speakers(root):
        spk_dir = root / spk
        if not spk_dir.is_dir():
            raise FileNotFoundError(f"{spk_dir}: no such GRID speaker folder")
        video_dirs = [spk_dir / "video" / "mpg_6000", spk_dir / "video", spk_dir]
        video_dir = next((d for d in video_dirs if d.is_dir() and _videos(d)), None)
        if video_dir is None:
            log.warning("%s: no videos, speaker skipped", spk_dir)
            continue
        align_dirs = [spk_dir / "align", root / "alignments" / spk, root / "align" / spk]
        audio_dirs = [root / "audio_25k" / spk, root / "audio_50k" / spk, root / "audio" / spk]
        audio_dir = next((d for d in audio_dirs if d.is_dir()), None)
        for video in _videos(video_dir):
            name = video.stem
            if video.stat().st_size == 0:
                log.warning("%s: empty file, skipped", video)
                continue
            align = next((d / f"{name}.align" for d in align_dirs if (d / f"{name}.align").is_file()), None)
            try:
                words = read_align_words(align) if align else grid_words(name)
            except (ValueError, KeyError, IndexError) as err:
                log.warning("%s: no transcript (%s), skipped", video, err)
                continue
            wav = None
            if audio_dir is not None:
                cand = audio_dir / f"{name}.wav"
                wav = str(cand) if cand.is_file() else None
                if wav is None:
                    log.warning("%s: no audio file beside the others; video skipped", video)
                    continue
            entries.append(Entry(utt_id(spk, name), spk, str(video), " ".join(words), wav))
    return entries


def _videos(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)


def read_lrs_text(path: Path) -> str | None:
    """The transcript of an LRS-style ``.txt`` (first line ``Text:  WORDS``), or None."""
    if not path.is_file():
        return None
    first = path.read_text(encoding="utf-8", errors="replace").splitlines()[:1]
    if first and first[0].startswith("Text:"):
        text = first[0][len("Text:") :].strip()
        return text or None
    return None


def read_voxceleb2(root: Path, part: str) -> list[Entry]:
    """VoxCeleb2 ``<part>/mp4/<speaker>/<video id>/<clip>.mp4`` (part: dev or test).

    VoxCeleb2 has no transcripts; an LRS-style ``<clip>.txt`` beside a clip is read when there.
    """
    base = root.resolve() / part / "mp4"
    if not base.is_dir():
        raise FileNotFoundError(f"{base}: no VoxCeleb2 {part} videos")
    entries = []
    for clip in sorted(base.glob("*/*/*.mp4")):
        spk, vid = clip.parent.parent.name, clip.parent.name
        if clip.stat().st_size == 0:
            log.warning("%s: empty file, skipped", clip)
            continue
        entries.append(
            Entry(utt_id(spk, f"{vid}_{clip.stem}"), spk, str(clip), read_lrs_text(clip.with_suffix(".txt")))
        )
    return entries


def read_tcd_timit(root: Path, group: str, prompts: dict[str, str]) -> list[Entry]:
    """TCD-TIMIT ``<group>/<speaker>/Clips/straightcam/<utt>.mp4`` (group: lipspeakers or
    volunteers), ``<utt>`` being the TIMIT sentence id that ``prompts`` (see
    :func:`read_timit_prompts`) maps to the words: the release has no transcripts of its own.
    """
    base = root.resolve() / group
    if not base.is_dir():
        raise FileNotFoundError(f"{base}: no TCD-TIMIT {group} folder")
    entries = []
    for clip in sorted(base.glob("*/Clips/straightcam/*.mp4")):
        text = prompts.get(clip.stem.lower())
        if text is None:
            log.warning("%s: no TIMIT prompt %r, skipped", clip, clip.stem)
            continue
        if clip.stat().st_size == 0:
            log.warning("%s: empty file, skipped", clip)
            continue
        spk = clip.parent.parent.parent.name
        entries.append(Entry(utt_id(spk, clip.stem), spk, str(clip), text))
    return entries


_PROMPT_LINE = re.compile(r"(?P<text>.*\S)\s*\((?P<id>s[aix]\d+)\)\s*")


def timit_words(prompt: str) -> str:
    """A TIMIT prompt as lower-case words: hyphens split words, apostrophes stay (``bride's``,
    ``maids'``), other punctuation goes (``Zig-zagged.`` -> ``zig zagged``)."""
    return " ".join(re.sub(r"[^a-z0-9' ]", "", prompt.lower().replace("-", " ")).split())


def read_timit_prompts(path: Path) -> dict[str, str]:
    """TIMIT's prompt list (``PROMPTS.TXT``: ``<sentence> (<id>)`` lines, ``;`` comments) as
    ``{id: words}`` (:func:`timit_words`). Lines of another form are skipped with a warning
    naming them; a file without any prompt is an error.
    """
    prompts: dict[str, str] = {}
    for lineno, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith(";"):
            continue
        match = _PROMPT_LINE.fullmatch(line.strip())
        if match is None:
            log.warning("%s:%d: not a '<sentence> (<id>)' line, skipped: %r", path, lineno, line)
            continue
        sid = match["id"].lower()
        if sid in prompts:
            log.warning("%s:%d: prompt %s given twice; the first is kept", path, lineno, sid)
            continue
        prompts[sid] = timit_words(match["text"])
    if not prompts:
        raise ValueError(f"{path}: no '<sentence> (<id>)' prompt lines (is it TIMIT's PROMPTS.TXT?)")
    return prompts


def read_split_list(path: Path) -> list[tuple[str, str]]:
    """A published split list shipped with a recipe: ``<speaker>/<utterance>`` lines (``#``
    comments), as (speaker, utterance) pairs in file order."""
    pairs: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        spk, sep, name = line.strip().partition("/")
        if not sep or not spk or not name or "/" in name or " " in line.strip():
            raise ValueError(f"{path}:{lineno}: not a '<speaker>/<utterance>' line: {line!r}")
        if (spk, name) in seen:
            raise ValueError(f"{path}:{lineno}: {spk}/{name} listed twice")
        seen.add((spk, name))
        pairs.append((spk, name))
    return pairs


def read_cmlr(root: Path, names: list[str] | None = None) -> list[Entry]:
    """CMLR ``video/<speaker>/<date>/<clip>.mp4`` with ``text/<speaker>/<date>/<clip>.txt`` (the
    sentence on the first line) and ``audio/<speaker>/<date>/<clip>.wav`` when present.
    ``names``: ``<speaker>/<date>/<clip>`` keys to read (the corpus' split lists); default all.
    """
    root = root.resolve()
    if names is None:
        names = sorted(
            str(p.relative_to(root / "video").with_suffix("")) for p in (root / "video").glob("*/*/*.mp4")
        )
    entries = []
    for name in names:
        video, text_file = root / "video" / f"{name}.mp4", root / "text" / f"{name}.txt"
        if not video.is_file() or not text_file.is_file():
            log.warning("%s: video or transcript missing, skipped", name)
            continue
        lines = text_file.read_text(encoding="utf-8").splitlines()
        text = lines[0].strip() if lines else ""
        if not text:
            log.warning("%s: empty transcript, skipped", text_file)
            continue
        spk = name.split("/")[0]
        wav = root / "audio" / f"{name}.wav"
        entries.append(
            Entry(
                utt_id(spk, "-".join(name.split("/")[1:])),
                spk,
                str(video),
                text,
                str(wav) if wav.is_file() else None,
            )
        )
    return entries


def read_librispeech(root: Path, subset: str) -> list[Entry]:
    """LibriSpeech ``<subset>/<speaker>/<chapter>/<speaker>-<chapter>-<n>.flac`` with each
    chapter's ``<speaker>-<chapter>.trans.txt`` (``<utt id> WORDS`` per line): audio only.

    Utterance ids are LibriSpeech's own (``<speaker>-<chapter>-<n>``), the speaker its reader.
    A file without a transcript line is kept without text (audio pre-training needs none);
    a transcript line without its file is skipped; both are logged.
    """
    base = root.resolve() / subset
    if not base.is_dir():
        raise FileNotFoundError(f"{base}: no LibriSpeech subset {subset}")
    entries = []
    for chapter in sorted(p for p in base.glob("*/*") if p.is_dir()):
        spk = chapter.parent.name
        trans = chapter / f"{spk}-{chapter.name}.trans.txt"
        texts: dict[str, str] = {}
        if trans.is_file():
            for line in trans.read_text(encoding="utf-8", errors="replace").splitlines():
                key, _, words = line.strip().partition(" ")
                if key:
                    texts[key] = words.strip()
        else:
            log.warning("%s: no transcript file; its utterances have no text", trans)
        flacs = {p.stem: p for p in chapter.glob("*.flac") if p.is_file()}
        for key in sorted(set(texts) - set(flacs)):
            log.warning("%s: %s is in the transcript but has no .flac; skipped", trans, key)
        for name in sorted(flacs):
            if flacs[name].stat().st_size == 0:
                log.warning("%s: empty file, skipped", flacs[name])
                continue
            if not name.startswith(f"{spk}-{chapter.name}-"):
                log.warning("%s: not named <speaker>-<chapter>-<n>.flac; skipped", flacs[name])
                continue
            entries.append(
                Entry(utt_id(spk, name[len(spk) + 1 :]), spk, None, texts.get(name), str(flacs[name]))
            )
    return entries
