#!/usr/bin/env bash
# VoxCeleb2 data preparation for pre-training, as the paper: dev/mp4 and test/mp4 together
# (6,112 speakers), minus a held-out share of the speakers (voxceleb2_train), and those
# speakers (voxceleb2_valid).
# VoxCeleb2 has no transcripts: 'text' is written only when every clip has an LRS-style .txt.
set -euo pipefail

log() { echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${BASH_SOURCE[0]##*/}) $*" >&2; }

voxceleb2_root=""  # VoxCeleb2 root with dev/mp4 and test/mp4 (default: ${VOXCELEB2} from db.sh).
valid_share=0.05   # Share of the speakers held out for validation.
seed=0             # Seed of the held-out choice.
datadir=data       # Output folder of the sets.

help_message="Usage: $0 [--voxceleb2_root DIR] [--valid_share 0.05] [--seed N] [--datadir data]"

# shellcheck disable=SC1091
. ./path.sh
# shellcheck disable=SC1091
. ./db.sh
# shellcheck disable=SC1091
. utils/parse_options.sh || exit 1
[ $# -eq 0 ] || { echo "${help_message}" >&2; exit 1; }
[ -n "${voxceleb2_root}" ] || voxceleb2_root=${VOXCELEB2}
[ -d "${voxceleb2_root}/dev/mp4" ] || { log "no VoxCeleb2 at '${voxceleb2_root}' (dev/mp4): set VOXCELEB2 in db.sh or pass --voxceleb2_root"; exit 1; }

log "preparing VoxCeleb2 from ${voxceleb2_root}"
python -m lipsound2.bin.prepare_corpus voxceleb2 --voxceleb2_root "${voxceleb2_root}" \
  --valid_share "${valid_share}" --seed "${seed}" --datadir "${datadir}"
for dset in voxceleb2_train voxceleb2_valid; do
  dir=${datadir}/${dset}
  vopts=(--no-feats --no-wav)
  [ -f "${dir}/text" ] || vopts+=(--no-text)
  utils/validate_data_dir.sh "${vopts[@]}" "${dir}"
done
log "done"
