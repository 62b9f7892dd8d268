"""Generate the corpora on disk: GRID's layout, VoxCeleb2's layout for pre-training, and an
audio-only set in LibriSpeech's layout for audio pre-training of the decoder.

The sets draw speakers from one bank, so the GRID-style speakers (bank entries 0..n-1), the
pre-training speakers (entries from ``PRETRAIN_BANK_OFFSET``) and the audio-only speakers (from
``AUDIO_BANK_OFFSET``) never share a voice (voice, duration stretch and warp) or a face.
Everything random comes from ``numpy`` generators seeded from (seed, speaker, utterance), so a
seed gives the same files byte for byte, whatever the number of worker processes.
"""

from __future__ import annotations

import json
import multiprocessing
import string
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from lipsound2.corpus.grid import grid_code
from lipsound2.fileio.atomic import atomic_open, atomic_path
from lipsound2.fileio.wav import write_wav
from lipsound2.synthetic.face import FaceRenderer, FaceStyle
from lipsound2.synthetic.grammar import free_sentence, grid_sentence, story_sentence
from lipsound2.synthetic.speech import FESTIVAL_VOICES, Utterance, Voice, synthesize
from lipsound2.synthetic.video import FPS, frames, write_clip

GRID_RATE = 25000  # GRID's audio_25k release; .align times count 1000 per video frame
GRID_FRAMES = 75  # GRID clips are 3 s long
PRETRAIN_BANK_OFFSET = 100
AUDIO_BANK_OFFSET = 200
MARKER = "GENERATED.json"

# Hand-picked voices first (clearly different from each other), then procedural ones.
_VOICE_BANK = [
    Voice("kal_diphone", 1.0, 1.0),
    Voice("cmu_us_slt_arctic_hts", 1.0, 1.0),
    Voice("ked_diphone", 1.05, 0.94),
    Voice("cmu_us_slt_arctic_hts", 0.95, 0.86),
    Voice("kal_diphone", 0.92, 1.16),
    Voice("ked_diphone", 1.1, 1.1),
]


def bank_voice(index: int) -> Voice:
    """Speaker ``index`` of the voice bank."""
    if index < len(_VOICE_BANK):
        return _VOICE_BANK[index]
    rng = np.random.default_rng([7919, index])
    return Voice(
        FESTIVAL_VOICES[index % len(FESTIVAL_VOICES)],
        float(rng.uniform(0.88, 1.15)),
        float(rng.uniform(0.84, 1.22)),
    )


@dataclass(frozen=True)
class Speaker:
    name: str
    bank_index: int

    @property
    def voice(self) -> Voice:
        return bank_voice(self.bank_index)

    def style(self, seed: int) -> FaceStyle:
        return FaceStyle.random(np.random.default_rng([seed, 1, self.bank_index]))


@dataclass(frozen=True)
class ClipJob:
    """Everything one worker needs to write one clip."""

    speaker: Speaker
    utt: Utterance
    num_frames: int
    lead: float  # seconds of silence before the speech
    rng_key: tuple[int, ...]
    video_path: Path
    size: tuple[int, int]
    zoom: float
    align_path: Path | None = None
    wav_path: Path | None = None
    text_path: Path | None = None


def _pad(utt: Utterance, lead: float, num_frames: int, rng: np.random.Generator) -> np.ndarray:
    """Place the speech ``lead`` s into a clip of ``num_frames`` frames with a faint noise floor."""
    total = int(round(num_frames / FPS * utt.rate))
    audio = np.zeros(total, np.float32)
    start = int(round(lead * utt.rate))
    speech = utt.audio[: max(total - start, 0)]
    peak = float(np.max(np.abs(speech))) or 1.0
    audio[start : start + len(speech)] = speech * (0.6 / peak)
    audio += rng.standard_normal(total).astype(np.float32) * 0.0015
    return np.clip(audio, -1, 1)


def align_lines(utt: Utterance, lead: float, num_frames: int) -> list[str]:
    """GRID .align lines: ``start end word`` in 1/25000 s (1000 per frame), sil at both ends,
    sp for pauses between words, times on GRID's 250-unit (10 ms) grid."""

    def unit(t: float) -> int:
        return int(round((t + lead) * GRID_RATE / 250)) * 250

    end_all = num_frames * 1000
    rows, cursor = [], 0
    for word, start, end in utt.word_times:
        a, b = unit(start), min(unit(end), end_all)
        if a > cursor:
            rows.append((cursor, a, "sil" if not rows else "sp"))
        a = max(a, cursor)
        if b > a:
            rows.append((a, b, word))
            cursor = b
    rows.append((cursor, end_all, "sil"))
    return [f"{a} {b} {w}" for a, b, w in rows]


def write_job(job: ClipJob) -> str:
    """Render and write one clip (and its alignment, wav, transcript); returns the video path."""
    rng = np.random.default_rng(list(job.rng_key))
    audio = _pad(job.utt, job.lead, job.num_frames, rng)
    renderer = FaceRenderer(job.speaker.style(job.rng_key[0]), *job.size, zoom=job.zoom)
    phones = [(p, a + job.lead, b + job.lead) for p, a, b in job.utt.phones]
    write_clip(job.video_path, frames(renderer, phones, job.num_frames, rng), job.size, audio, job.utt.rate)
    if job.wav_path is not None:
        write_wav(job.wav_path, audio, job.utt.rate)
    if job.align_path is not None:
        with atomic_open(job.align_path, "w") as f:
            f.write("\n".join(align_lines(job.utt, job.lead, job.num_frames)) + "\n")
    if job.text_path is not None:
        with atomic_open(job.text_path, "w") as f:
            f.write(f"Text:  {' '.join(job.utt.words).upper()}\n")
    return str(job.video_path)


def _synth(args: tuple[Voice, list[list[str]], int, bool]) -> list[Utterance]:
    voice, sentences, rate, letters = args
    return synthesize(voice, sentences, rate, letters=letters)


def _run(jobs_by_speaker: dict[Speaker, list], nproc: int, desc: str) -> int:
    """Synthesise per speaker, then render and encode per clip, over ``nproc`` processes."""
    speakers = list(jobs_by_speaker)
    with multiprocessing.get_context("spawn").Pool(nproc) as pool:
        synth_args = [
            (s.voice, [j[0] for j in jobs_by_speaker[s]], jobs_by_speaker[s][0][1], jobs_by_speaker[s][0][2])
            for s in speakers
        ]
        utts = pool.map(_synth, synth_args)
        jobs = []
        for spk, spk_utts in zip(speakers, utts):
            for (_, _, _, make), utt in zip(jobs_by_speaker[spk], spk_utts):
                jobs.append(make(utt))
        for _ in tqdm(pool.imap_unordered(write_job, jobs), total=len(jobs), desc=desc, unit="clip"):
            pass
    return len(jobs)


def _done(root: Path, params: dict) -> bool:
    marker = root / MARKER
    return marker.is_file() and json.loads(marker.read_text())["params"] == params


def _mark(root: Path, params: dict, count: int) -> None:
    with atomic_open(root / MARKER, "w") as f:
        json.dump({"params": params, "clips": count}, f, indent=1, sort_keys=True)


def generate_grid(
    root: Path, speakers: int = 4, utts: int = 25, seed: int = 0, layout: str = "a", nproc: int = 2
) -> int:
    """A GRID-style corpus under ``root``; returns the number of clips (0 when already there).

    layout ``a``: ``sN/<utt>.mpg``, ``alignments/sN/<utt>.align``, ``audio_25k/sN/<utt>.wav``;
    layout ``b``: ``sN/video/mpg_6000/<utt>.mpg``, ``sN/align/<utt>.align`` (no separate audio).
    """
    if layout not in ("a", "b"):
        raise ValueError(f"unknown GRID layout {layout!r} (a or b)")
    if speakers < 1 or utts < 1:
        raise ValueError(f"need at least one speaker and one utterance, got {speakers} x {utts}")
    params = {"kind": "grid", "speakers": speakers, "utts": utts, "seed": seed, "layout": layout}
    if _done(root, params):
        return 0
    plan: dict[Speaker, list] = {}
    for k in range(speakers):
        spk = Speaker(f"s{k + 1}", k)
        rng = np.random.default_rng([seed, 2, k])
        codes: dict[str, list[str]] = {}
        while len(codes) < utts:
            words = grid_sentence(rng)
            codes.setdefault(grid_code(words), words)
        entries = []
        for i, (code, words) in enumerate(codes.items()):
            if layout == "a":
                video = root / spk.name / f"{code}.mpg"
                align = root / "alignments" / spk.name / f"{code}.align"
                wav = root / "audio_25k" / spk.name / f"{code}.wav"
            else:
                video = root / spk.name / "video" / "mpg_6000" / f"{code}.mpg"
                align, wav = root / spk.name / "align" / f"{code}.align", None
            lead = float(rng.uniform(0.25, 0.55))

            def make(utt: Utterance, spk=spk, i=i, lead=lead, video=video, align=align, wav=wav) -> ClipJob:
                speech = utt.word_times[-1][2] if utt.word_times else 0.0
                num_frames = max(GRID_FRAMES, int(np.ceil((lead + speech + 0.2) * FPS)))
                return ClipJob(
                    spk,
                    utt,
                    num_frames,
                    lead,
                    (seed, 3, spk.bank_index, i),
                    video,
                    (360, 288),
                    1.0,
                    align_path=align,
                    wav_path=wav,
                )

            entries.append((words, GRID_RATE, True, make))
        plan[spk] = entries
    count = _run(plan, nproc, "grid clips")
    _mark(root, params, count)
    return count


def _video_id(rng: np.random.Generator) -> str:
    alphabet = string.ascii_letters + string.digits + "-_"
    return "".join(alphabet[i] for i in rng.integers(len(alphabet), size=11))


def generate_voxceleb(
    root: Path,
    dev_speakers: int = 10,
    test_speakers: int = 2,
    videos: int = 3,
    clips: int = 4,
    seed: int = 0,
    nproc: int = 2,
) -> int:
    """A VoxCeleb2-layout pre-training set: ``{dev,test}/mp4/idNNNNN/<video id>/NNNNN.mp4``.

    Free English sentences, 224x224 H.264 with AAC 16 kHz mono as VoxCeleb2 ships. Each clip
    also has an LRS3-style ``NNNNN.txt`` transcript beside it (VoxCeleb2 itself has none).
    """
    params = {
        "kind": "voxceleb2",
        "dev_speakers": dev_speakers,
        "test_speakers": test_speakers,
        "videos": videos,
        "clips": clips,
        "seed": seed,
    }
    if _done(root, params):
        return 0
    plan: dict[Speaker, list] = {}
    for k in range(dev_speakers + test_speakers):
        part = "dev" if k < dev_speakers else "test"
        bank = PRETRAIN_BANK_OFFSET + k
        rng = np.random.default_rng([seed, 4, bank])
        spk = Speaker(f"id{10001 + k:05d}", bank)
        entries = []
        for v in range(videos):
            vid = _video_id(rng)
            for c in range(clips):
                words = free_sentence(rng)
                video = root / part / "mp4" / spk.name / vid / f"{c + 1:05d}.mp4"
                lead = float(rng.uniform(0.1, 0.4))
                key = (seed, 5, bank, v * 1000 + c)

                def make(utt: Utterance, spk=spk, video=video, lead=lead, key=key) -> ClipJob:
                    speech = utt.word_times[-1][2] if utt.word_times else 0.0
                    num_frames = int(np.ceil((lead + speech + 0.25) * FPS))
                    return ClipJob(
                        spk,
                        utt,
                        num_frames,
                        lead,
                        key,
                        video,
                        (224, 224),
                        1.15,
                        text_path=video.with_suffix(".txt"),
                    )

                entries.append((words, 16000, False, make))
        plan[spk] = entries
    count = _run(plan, nproc, "voxceleb2-layout clips")
    _mark(root, params, count)
    return count


def _write_audio_only(args: tuple[Speaker, list[tuple[Utterance, Path, int]]]) -> int:
    """Write one speaker's utterances as FLAC (with a faint noise floor) and its chapters'
    ``.trans.txt``; returns the number of files."""
    spk, items = args
    chapters: dict[Path, list[str]] = {}
    for utt, path, key in items:
        rng = np.random.default_rng([key, spk.bank_index])
        lead = float(rng.uniform(0.1, 0.3))
        audio = _pad(utt, lead, int(np.ceil((lead + len(utt.audio) / utt.rate + 0.2) * FPS)), rng)
        with atomic_path(path) as tmp:
            sf.write(str(tmp), audio, utt.rate, format="FLAC", subtype="PCM_16")
        chapters.setdefault(path.parent, []).append(f"{path.stem} {' '.join(utt.words).upper()}")
    for chapter, lines in chapters.items():
        with atomic_open(chapter / f"{spk.name}-{chapter.name}.trans.txt", "w") as f:
            f.write("\n".join(sorted(lines)) + "\n")
    return len(items)


def generate_librispeech(
    root: Path,
    subsets: dict[str, int] | None = None,
    chapters: int = 2,
    utts: int = 5,
    seed: int = 0,
    nproc: int = 2,
) -> int:
    """An audio-only corpus in LibriSpeech's layout: ``<subset>/<speaker>/<chapter>/
    <speaker>-<chapter>-<nnnn>.flac`` and ``<speaker>-<chapter>.trans.txt``, 16 kHz.

    ``subsets``: subset name -> speakers (default: 8 in train-clean-100, 2 in dev-clean);
    each speaker reads ``chapters`` chapters of ``utts`` story sentences (:func:`story_sentence`:
    no sentence of the audio-visual sets), with voices of the bank from ``AUDIO_BANK_OFFSET``.
    """
    subsets = subsets or {"train-clean-100": 8, "dev-clean": 2}
    if any(n < 1 for n in subsets.values()) or chapters < 1 or utts < 1:
        raise ValueError(f"need at least one speaker, chapter and utterance: {subsets}, {chapters} x {utts}")
    params = {"kind": "librispeech", "subsets": subsets, "chapters": chapters, "utts": utts, "seed": seed}
    if _done(root, params):
        return 0
    plan = []
    k = 0
    for subset, speakers in subsets.items():
        for _ in range(speakers):
            bank = AUDIO_BANK_OFFSET + k
            spk = Speaker(str(1000 + 37 * k), bank)
            rng = np.random.default_rng([seed, 6, bank])
            items = []
            for c in range(chapters):
                chapter = str(int(rng.integers(100, 9999)) * 10 + c)
                for i in range(utts):
                    path = root / subset / spk.name / chapter / f"{spk.name}-{chapter}-{i:04d}.flac"
                    items.append((story_sentence(rng), path, seed * 100000 + c * 1000 + i))
            plan.append((spk, items))
            k += 1
    with multiprocessing.get_context("spawn").Pool(nproc) as pool:
        utts_by_speaker = pool.map(
            _synth, [(spk.voice, [w for w, _, _ in items], 16000, False) for spk, items in plan]
        )
        jobs = [
            (spk, [(utt, path, key) for utt, (_, path, key) in zip(spk_utts, items)])
            for (spk, items), spk_utts in zip(plan, utts_by_speaker)
        ]
        count = sum(
            tqdm(pool.imap_unordered(_write_audio_only, jobs), total=len(jobs), desc="speakers", unit="spk")
        )
    _mark(root, params, count)
    return count
