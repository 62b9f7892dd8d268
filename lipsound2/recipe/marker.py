"""Done markers that record what made a step's output, so a rerun redoes exactly what changed.

A recipe step (a stage's work on one set, a training, a decode dir) writes
``DIR/.done.NAME`` when it finishes. The marker holds the step's *key*: the settings it read
(config files by content, flattened to one entry per leaf, so an edit is reported as
``crop.region: face -> mouth``; the options that matter) and a fingerprint of its inputs
(Kaldi tables with the size and modification time of every file they list, model files,
whole folders). On a rerun the key is built again from the same description:

- the same key: the step is done and is skipped;
- no marker but a ``.started.NAME`` with the same key: an interrupted run, which continues
  (a training resumes from its checkpoint);
- anything else: the differences are reported, the step's stale outputs and the markers
  of what read them are removed, and the step runs again.

Downstream steps key on the outputs of upstream ones, so a redone step makes every step
after it redo as well, while an unchanged rerun skips all of them.

This module imports nothing heavy: the stage script calls it once per step.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from lipsound2.fileio.atomic import atomic_open

#: Entries of a key: label -> value (settings) or digest (inputs).
Key = dict[str, str]
#: The labels of input entries (the rest are settings).
INPUT_LABELS = ("table ", "corpus ", "file ", "folder ")


def _flatten(value: object, prefix: str, out: Key) -> None:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            _flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    else:
        out[prefix] = json.dumps(value, sort_keys=True, default=str)


def conf_entries(
    role: str, path: str | os.PathLike, sections: Iterable[str] | None = None, optional: bool = False
) -> Key:
    """One entry per leaf setting of a YAML file (comments and layout do not count).

    ``sections``: only these top-level keys or dotted keys (stage 1 reads the front end's
    crop settings, not its mel; stage 2 reads ``video.fps`` of the video section). The file's
    name is not part of the key: only ``role`` labels the entries. A missing file is an error
    (a typo must not pass for a change and remove finished output), unless ``optional`` (a
    file a report only quotes). The role ``frontend`` is read with the front end's defaults
    filled in and its keys checked, so an unknown key stops here and a default written out
    is no change.
    """
    if not os.path.exists(path):
        if optional:
            return {f"{role}: (file)": "missing"}
        raise ValueError(f"{role} config {path} does not exist")
    if role == "frontend":
        from lipsound2.frontend.config import config_to_dict, load_config

        data = config_to_dict(load_config(path))
    else:
        data = _read_mapping(path)
    return settings_entries(role, data, sections)


def _read_mapping(path: str | os.PathLike) -> dict:
    with open(path, encoding="utf-8") as f:
        try:
            data = yaml.safe_load(f)
        except yaml.YAMLError as exc:
            raise ValueError(f"{path}: not valid YAML: {exc}") from exc
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data


def settings_entries(role: str, data: dict, sections: Iterable[str] | None = None) -> Key:
    """The entries of a settings mapping (see :func:`conf_entries`)."""
    out: Key = {}
    _flatten(data, "", out)
    if sections is not None:
        wanted = tuple(sections)
        out = {k: v for k, v in out.items() if k in wanted or k.startswith(tuple(f"{w}." for w in wanted))}
    return {f"{role}: {k}": v for k, v in out.items()}


def _stat_text(path: str) -> str:
    try:
        st = os.stat(path)
    except OSError:
        return "missing"
    return f"{st.st_size}:{st.st_mtime_ns}"


def _listed_file(value: str) -> str | None:
    """The file a table value names: a path, or the ark of a ``path.ark:offset`` value."""
    if os.path.isfile(value):
        return value
    head, sep, tail = value.rpartition(":")
    if sep and tail.isdigit() and os.path.isfile(head):
        return head
    return None


def table_digest(path: str | os.PathLike, listing_dirs: bool = False) -> str:
    """Digest of a Kaldi table's bytes and the size and mtime of every file it lists.

    A value that is no file (a pipe, a missing path) enters by its text, so a listed file
    that disappears changes the digest. ``listing_dirs``: also the modification time of each
    folder holding a listed file, which changes when a file is added there or removed (a
    corpus that gained or exchanged clips). Returns ``missing`` for an absent table and
    ``N entries, M missing, <digest>`` otherwise.
    """
    try:
        data = Path(path).read_bytes()
    except OSError:
        return "missing"
    digest = hashlib.sha256(data)
    stats: dict[str, str] = {}
    dirs: set[str] = set()
    entries = missing = 0
    for line in data.decode("utf-8", "replace").splitlines():
        _, _, value = line.partition(" ")
        if not value:
            continue
        entries += 1
        listed = _listed_file(value)
        if listed is None:
            head, sep, tail = value.rpartition(":")
            named = head if sep and tail.isdigit() else value  # an ark's path:offset
            missing += named.endswith((".mp4", ".mpg", ".wav", ".flac", ".ark", ".avi", ".mov"))
            continue
        if listed not in stats:
            stats[listed] = _stat_text(listed)
            digest.update(f"{listed}\t{stats[listed]}\n".encode())
        if listing_dirs:
            dirs.add(os.path.dirname(os.path.abspath(listed)))
    for d in sorted(dirs):
        digest.update(f"{d}\t{_stat_text(d)}\n".encode())
    return f"{entries} entries, {missing} missing files, {digest.hexdigest()[:16]}"


def file_digest(path: str | os.PathLike) -> str:
    """Size and mtime of a file (a model, a script); a link is followed."""
    return _stat_text(str(path))


def tree_digest(path: str | os.PathLike) -> str:
    """Size and mtime of every file under a folder (``missing`` when it does not exist)."""
    root = Path(path)
    if not root.is_dir():
        return "missing"
    digest = hashlib.sha256()
    count = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            digest.update(f"{os.path.relpath(full, root)}\t{_stat_text(full)}\n".encode())
            count += 1
    return f"{count} files, {digest.hexdigest()[:16]}"


@dataclass
class StepKey:
    """What a step reads, described once; :meth:`build` turns it into a :data:`Key`."""

    confs: list[tuple[str, str, list[str] | None]] = field(default_factory=list)
    quotes: list[tuple[str, str]] = field(default_factory=list)  # optional configs, by content
    opts: list[tuple[str, str]] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    corpora: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    trees: list[str] = field(default_factory=list)

    def build(self) -> Key:
        key: Key = {}
        for role, path, sections in self.confs:
            key.update(conf_entries(role, path, sections))
        for role, path in self.quotes:
            key.update(conf_entries(role, path, optional=True))
        for name, value in self.opts:
            key[f"option {name}"] = value
        for table in self.tables:
            key[f"table {table}"] = table_digest(table)
        for table in self.corpora:
            key[f"corpus {table}"] = table_digest(table, listing_dirs=True)
        for path in self.files:
            key[f"file {path}"] = file_digest(path)
        for path in self.trees:
            key[f"folder {path}"] = tree_digest(path)
        return key


def describe_changes(old: Key, new: Key, limit: int = 12) -> list[str]:
    """What differs between two keys, one line per entry: ``label: old -> new``; the settings
    (configs, options) before the inputs, which usually changed because of them."""
    lines = []
    for label in sorted(old.keys() | new.keys(), key=lambda label: (label.startswith(INPUT_LABELS), label)):
        before, after = old.get(label, "(none)"), new.get(label, "(none)")
        if before != after:
            lines.append(f"{label}: {before} -> {after}")
    if len(lines) > limit:
        lines = lines[:limit] + [f"... and {len(lines) - limit} more"]
    return lines


def _read_key(path: Path) -> Key | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    key = data.get("key") if isinstance(data, dict) else None
    return key if isinstance(key, dict) else None


def _write_key(path: Path, key: Key) -> None:
    record = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "key": key}
    with atomic_open(path, "w", encoding="utf-8") as f:
        json.dump(record, f, indent=1, sort_keys=True)
        f.write("\n")


def marker_path(directory: str | os.PathLike, name: str) -> Path:
    return Path(directory) / f".done.{name}"


def started_path(directory: str | os.PathLike, name: str) -> Path:
    return Path(directory) / f".started.{name}"


def remove(patterns: Iterable[str], keep: Iterable[str] = ()) -> list[str]:
    """Remove files and folders matching the glob patterns, but none matching a ``keep``
    pattern; returns what was removed."""
    kept = {path for pattern in keep for path in glob.glob(pattern)}
    removed = []
    for pattern in patterns:
        for path in sorted(glob.glob(glob.escape(pattern) if "*" not in pattern else pattern)):
            if path in kept:
                continue
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
            removed.append(path)
    return removed


@dataclass
class Verdict:
    """The outcome of :func:`check`: ``state`` is done, new, resume or redo."""

    state: str
    changes: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


def check(
    directory: str | os.PathLike, name: str, key: Key, stale: Iterable[str] = (), keep: Iterable[str] = ()
) -> Verdict:
    """Whether the step ``directory``/``name`` is done with ``key``; prepares a rerun if not.

    When it is not done, ``.started.NAME`` records ``key`` (so an interrupted run resumes
    only under the same key) and, unless it resumes, the ``stale`` globs are removed first
    (but not what the ``keep`` globs match: outputs of other steps that live there).
    """
    done = marker_path(directory, name)
    started = started_path(directory, name)
    old = _read_key(done)
    if old == key:
        return Verdict("done")
    if old is None and done.exists():
        old = {}  # a marker of the old kind, with no key: redone once
    verdict: Verdict
    if old is None:
        running = _read_key(started)
        if running == key:
            return Verdict("resume")
        verdict = Verdict("new") if running is None else Verdict("redo", describe_changes(running, key))
    else:
        verdict = Verdict("redo", describe_changes(old, key) or ["the marker holds no key"])
    if done.exists():
        done.unlink()
    if verdict.state == "redo" or verdict.state == "new":
        verdict.removed = remove(stale, keep)
    Path(directory).mkdir(parents=True, exist_ok=True)
    # a step keyed on its own outputs (stage 1's tracks) just removed them: the run that
    # resumes it finds them so, and must find the key it started under
    _write_key(started, _inputs_now(key) if verdict.removed else key)
    return verdict


def _inputs_now(key: Key) -> Key:
    """``key`` with its input entries read again from the disk."""
    digests = {
        "table ": table_digest,
        "corpus ": lambda path: table_digest(path, listing_dirs=True),
        "file ": file_digest,
        "folder ": tree_digest,
    }
    now = dict(key)
    for label in key:
        for prefix, digest in digests.items():
            if label.startswith(prefix):
                now[label] = digest(label.removeprefix(prefix))
    return now


def compare(directory: str | os.PathLike, name: str, key: Key) -> Verdict:
    """What :func:`check` would say of the step, touching nothing: for a later step that reads
    its output (a model) and must not take it as what the settings now describe. ``state``:
    done, resume (started, never finished, whatever its key), new (never run) or redo (finished
    under another key; ``changes`` says what differs)."""
    old = _read_key(marker_path(directory, name))
    if old == key:
        return Verdict("done")
    if old is None:
        return Verdict("resume" if started_path(directory, name).exists() else "new")
    return Verdict("redo", describe_changes(old, key))


def refresh(directory: str | os.PathLike, name: str, key: Key) -> None:
    """Record in the finished step's marker the entries of ``key`` it already has, as they are
    now: a later step narrowed its output tables in place (stage 2 drops its rejects from stage
    1's), which is not a change that should make it run again. A step without a marker is
    left alone."""
    done = marker_path(directory, name)
    old = _read_key(done)
    if old is not None:
        _write_key(done, {**old, **{label: value for label, value in key.items() if label in old}})


def recorded_option(directory: str | os.PathLike, name: str, option: str) -> str | None:
    """The value of ``option`` (an ``--opt`` of the key) the finished step ``directory``/``name``
    ran with; None when it has no marker or no such option."""
    return (_read_key(marker_path(directory, name)) or {}).get(f"option {option}")


def stale_inputs(directory: str | os.PathLike, name: str) -> list[str]:
    """The tables a finished step read that have changed since (none when it has no marker):
    for readers of its output that must not report it as current."""
    key = _read_key(marker_path(directory, name)) or {}
    return [
        label.removeprefix("table ")
        for label, digest in key.items()
        if label.startswith("table ") and table_digest(label.removeprefix("table ")) != digest
    ]


def mark(directory: str | os.PathLike, name: str, key: Key) -> None:
    """Record that the step finished. ``key`` is built after the work: its inputs are those
    the step's output now rests on (data preparation's only exist once it ran). Its settings
    are those recorded when the step started (``.started.NAME``): a config edited while the
    step ran is then a change at the next run, not taken for what made the output."""
    started = _read_key(started_path(directory, name))
    if started is not None:
        key = {label: value for label, value in key.items() if label.startswith(INPUT_LABELS)}
        key.update({label: value for label, value in started.items() if not label.startswith(INPUT_LABELS)})
    _write_key(marker_path(directory, name), key)
    started = started_path(directory, name)
    if started.exists():
        started.unlink()
