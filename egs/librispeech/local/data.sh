#!/usr/bin/env bash
# LibriSpeech-layout data preparation for the decoder's audio-only pre-training:
# <root>/<subset>/<speaker>/<chapter>/<speaker>-<chapter>-<n>.flac and
# <speaker>-<chapter>.trans.txt. Each subset becomes an audio-only set (wav.scp, no video.scp)
# named librispeech_<subset> with "-" as "_": train-clean-100 -> librispeech_train_clean_100.
set -euo pipefail

log() { echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${BASH_SOURCE[0]##*/}) $*" >&2; }

librispeech_root=""                     # LibriSpeech root (default: ${LIBRISPEECH} from db.sh).
subsets="train-clean-100 dev-clean"     # Subsets to prepare (space or comma separated).
datadir=data                            # Output folder of the sets.

help_message="Usage: $0 [--librispeech_root DIR] [--subsets 'train-clean-100 dev-clean'] [--datadir data]"

# shellcheck disable=SC1091
. ./path.sh
# shellcheck disable=SC1091
. ./db.sh
# shellcheck disable=SC1091
. utils/parse_options.sh || exit 1
[ $# -eq 0 ] || { echo "${help_message}" >&2; exit 1; }
[ -n "${librispeech_root}" ] || librispeech_root=${LIBRISPEECH}
[ -d "${librispeech_root}" ] || { log "no LibriSpeech at '${librispeech_root}': set LIBRISPEECH in db.sh or pass --librispeech_root"; exit 1; }

log "preparing ${subsets} from ${librispeech_root}"
python -m lipsound2.bin.prepare_corpus librispeech --librispeech_root "${librispeech_root}" \
  --subsets "${subsets}" --datadir "${datadir}"
for subset in ${subsets//,/ }; do
  dir=${datadir}/librispeech_${subset//-/_}
  vopts=(--no-feats --no-video)
  [ -f "${dir}/text" ] || vopts+=(--no-text)
  utils/validate_data_dir.sh "${vopts[@]}" "${dir}"
done
log "done"
