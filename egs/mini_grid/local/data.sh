#!/usr/bin/env bash
# mini_grid data preparation: generates the synthetic corpora when absent (a GRID-layout set,
# a VoxCeleb2-layout pre-training set and a LibriSpeech-layout audio-only set, see README.md),
# then prepares them with the real recipes' scripts, unchanged: ../grid/local/data.sh (the
# chosen protocol), ../voxceleb2/local/data.sh and ../librispeech/local/data.sh.
set -euo pipefail

log() { echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${BASH_SOURCE[0]##*/}) $*" >&2; }

corpus_dir=downloads/mini_grid  # Where the generated corpora are written (grid/, voxceleb2/).
speakers=4           # GRID-style speakers s1..sN.
utts=25              # Utterances per GRID-style speaker.
layout=a             # GRID release layout to write: a (alignments/, audio_25k/) or b (sN/video/mpg_6000/).
pretrain_speakers=10 # Pre-training (VoxCeleb2-layout) dev speakers; 2 more go to its test part.
pretrain_videos=3    # Videos per pre-training speaker.
pretrain_clips=4     # Clips per video.
audio_speakers=10    # Audio-only (LibriSpeech-layout) speakers: 8 train-clean-100, 2 dev-clean; 0: none.
audio_chapters=2     # Chapters per audio-only speaker.
audio_utts=6         # Utterances per chapter.
protocol=sd          # GRID protocol to prepare: sd or si.
dev_share=0.1        # Per-speaker dev share (sd); the paper's 5% leaves one utterance here.
test_share=0.1       # Per-speaker test share (sd).
seed=0               # Seed of the generated corpora and of the splits.
nproc=2              # Processes generating the corpora.
datadir=data         # Output folder of the sets.

help_message="Usage: $0 [--corpus_dir DIR] [--speakers 4] [--utts 25] [--layout a|b] [--pretrain_speakers 10]
  [--pretrain_videos 3] [--pretrain_clips 4] [--audio_speakers 10] [--audio_chapters 2] [--audio_utts 6]
  [--protocol sd|si] [--dev_share 0.1] [--test_share 0.1] [--seed 0] [--nproc 2] [--datadir data]"

# shellcheck disable=SC1091
. ./path.sh
# shellcheck disable=SC1091
. utils/parse_options.sh || exit 1
[ $# -eq 0 ] || { echo "${help_message}" >&2; exit 1; }

grid_dir=${corpus_dir}/grid
vox_dir=${corpus_dir}/voxceleb2
log "generating (or reusing) the GRID-layout corpus in ${grid_dir}"
python -m lipsound2.bin.generate_corpus --kind grid --speakers "${speakers}" --utts "${utts}" \
  --layout "${layout}" --seed "${seed}" --nproc "${nproc}" "${grid_dir}"
log "generating (or reusing) the VoxCeleb2-layout pre-training corpus in ${vox_dir}"
python -m lipsound2.bin.generate_corpus --kind voxceleb2 --dev_speakers "${pretrain_speakers}" \
  --test_speakers 2 --videos "${pretrain_videos}" --clips "${pretrain_clips}" --seed "${seed}" \
  --nproc "${nproc}" "${vox_dir}"

# The paper's speaker-dependent protocol uses s1-s4.
spk_list=$(seq -f 's%g' -s ' ' 1 $((speakers < 4 ? speakers : 4)))
speaker_opts=()
[ "${protocol}" != sd ] || speaker_opts=(--speakers "${spk_list}")
../grid/local/data.sh --grid_root "${grid_dir}" --protocol "${protocol}" --seed "${seed}" \
  --dev_share "${dev_share}" --test_share "${test_share}" --datadir "${datadir}" "${speaker_opts[@]}"
../voxceleb2/local/data.sh --voxceleb2_root "${vox_dir}" --seed "${seed}" --datadir "${datadir}"
if [ "${audio_speakers}" -gt 0 ]; then
  libri_dir=${corpus_dir}/librispeech
  audio_dev=$(( audio_speakers >= 5 ? audio_speakers / 5 : 1 ))
  [ "${audio_speakers}" -gt "${audio_dev}" ] || { log "--audio_speakers must be 0 or at least 2"; exit 1; }
  log "generating (or reusing) the LibriSpeech-layout audio-only corpus in ${libri_dir}"
  python -m lipsound2.bin.generate_corpus --kind librispeech \
    --subsets "train-clean-100:$((audio_speakers - audio_dev)) dev-clean:${audio_dev}" \
    --chapters "${audio_chapters}" --chapter_utts "${audio_utts}" --seed "${seed}" --nproc "${nproc}" "${libri_dir}"
  ../librispeech/local/data.sh --librispeech_root "${libri_dir}" --datadir "${datadir}"
fi
log "done"
