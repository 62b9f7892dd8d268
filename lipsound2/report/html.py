"""One self-contained HTML page per experiment: the tables and a few listenable samples.

Audio and images are linked by relative paths from the page's folder, so the experiment
folder can be copied or served as a whole. Mel images are drawn here (generated against
ground truth); attention images are the ones stage 5 wrote to ``<decode dir>/plots/``.
"""

from __future__ import annotations

import html
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from lipsound2.fileio.ark import load_array  # noqa: E402
from lipsound2.fileio.atomic import atomic_open, atomic_path  # noqa: E402
from lipsound2.fileio.table import read_table  # noqa: E402
from lipsound2.fileio.wav import read_wav  # noqa: E402
from lipsound2.frontend.mel import MelConfig, log_mel  # noqa: E402
from lipsound2.report.results import Results, relpath, tables  # noqa: E402

STYLE = """body{font-family:sans-serif;max-width:1100px;margin:auto;padding:1em}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #bbb;padding:.25em .6em}
th{background:#eee}td{text-align:right}td:first-child{text-align:left}
.utt{border-top:1px solid #ccc;padding:.5em 0}.utt img{max-width:100%}audio{height:2em}"""


def _mel_of(spec: str | None, wav_path: str | None) -> np.ndarray | None:
    if spec:
        return load_array(spec)
    if wav_path:
        return log_mel(read_wav(wav_path, MelConfig().sample_rate))
    return None


def _plot_mels(path: Path, mels: list[tuple[str, np.ndarray]]) -> None:
    fig, axes = plt.subplots(len(mels), 1, figsize=(8, 1.8 * len(mels)), squeeze=False)
    for ax, (title, mel) in zip(axes[:, 0], mels):
        ax.imshow(mel.T, origin="lower", aspect="auto", interpolation="none")
        ax.set_title(title, fontsize=9)
        ax.set_ylabel("mel")
    axes[-1, 0].set_xlabel("frame (16 ms)")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)
    plt.close(fig)


def _resolve(path: str) -> Path:
    return Path(path).absolute()


def write_report(
    res: Results,
    page: str | os.PathLike,
    title: str,
    test_sets: dict[str, Path],
    environment: list[tuple[str, str]],
    num_samples: int = 3,
) -> Path:
    """Write ``page`` (and its mel images in ``<page dir>/img``); returns the page path."""
    page = Path(page)
    out_dir = page.parent
    img_dir = out_dir / "img"
    img_dir.mkdir(parents=True, exist_ok=True)
    body = [f"<h1>{html.escape(title)}</h1>", "<h2>Environment</h2><ul>"]
    body += [f"<li>{html.escape(k)}: <code>{html.escape(v)}</code></li>" for k, v in environment]
    body.append("</ul>")
    for ttl, header, rows in tables(res):
        body.append(f"<h2>{html.escape(ttl)}</h2><table><tr>")
        body += [f"<th>{html.escape(h)}</th>" for h in header]
        body.append("</tr>")
        for row in rows:
            body.append("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>")
        body.append("</table>")

    set_name = res.sets[0]
    ref_dir = test_sets[set_name]
    ref_wavs = read_table(ref_dir / "wav.scp")
    ref_feats = read_table(ref_dir / "feats.scp") if (ref_dir / "feats.scp").exists() else {}
    texts = read_table(ref_dir / "text")
    audio_rows = [
        (lb, res.dirs[lb][set_name])
        for lb in res.labels
        if set_name in res.dirs[lb] and (res.dirs[lb][set_name] / "wav.scp").exists()
    ]
    if audio_rows:
        first = read_table(audio_rows[0][1] / "wav.scp")
        keys = [k for k in first if k in ref_wavs][:num_samples]
        body.append(f"<h2>Samples ({html.escape(set_name)})</h2>")
        for key in keys:
            body.append(
                f'<div class="utt"><h3>{html.escape(key)}</h3><p>{html.escape(texts.get(key, ""))}</p><table>'
            )
            body.append(f"<tr><td>original</td><td>{_audio(_resolve(ref_wavs[key]), out_dir)}</td></tr>")
            mels = [("ground truth", _mel_of(ref_feats.get(key), ref_wavs[key]))]
            for label, d in audio_rows:
                wavs = read_table(d / "wav.scp")
                if key not in wavs:
                    continue
                body.append(
                    f"<tr><td>{html.escape(label)}</td><td>{_audio(_resolve(wavs[key]), out_dir)}</td></tr>"
                )
                feats = read_table(d / "feats.scp") if (d / "feats.scp").exists() else {}
                if key in feats:
                    mels.append((f"{label}: generated mel", load_array(feats[key])))
            body.append("</table>")
            mel_png = img_dir / f"{key}_mel.png"
            _plot_mels(mel_png, [(t, m) for t, m in mels if m is not None])
            body.append(
                f'<p><img alt="mel spectrograms of {html.escape(key)}" src="{relpath(mel_png, out_dir)}"></p>'
            )
            for _, d in audio_rows:
                for png in sorted((d / "plots").glob(f"*{key}*.png")) if (d / "plots").is_dir() else []:
                    alt = f"{png.stem} (attention / stage 5 plot)"
                    body.append(f'<p><img alt="{html.escape(alt)}" src="{relpath(png, out_dir)}"></p>')
            body.append("</div>")

    doc = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n"
    )
    with atomic_open(page, "w", encoding="utf-8") as f:
        f.write(doc)
    return page


def _audio(path: Path, out_dir: Path) -> str:
    return f'<audio controls preload="none" src="{html.escape(relpath(path, out_dir))}"></audio>'
