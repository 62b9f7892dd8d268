#!/usr/bin/env bash
# GRID data preparation: Kaldi data dirs for the speech-reconstruction protocols of the LipSound2
# paper (sd, si) or LipNet's lip-reading protocols (overlapped, unseen; the paper's Table VI).
# Reads either GRID release layout; the splits and their sources are in README.md.
# Writes ${datadir}/{train,dev,test}_${protocol}/{video.scp,text,utt2spk,spk2utt[,wav.scp]}.
set -euo pipefail

log() { echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${BASH_SOURCE[0]##*/}) $*" >&2; }

grid_root=""        # GRID root folder (default: ${GRID} from db.sh).
protocol=sd         # sd: s1-s4, random 90:5:5 per speaker; si: disjoint speakers; overlapped:
                    # LipNet's published 255 test sentences per speaker; unseen: s1 s2 s20 s22 test.
speakers=""         # Speakers to use (sd default "s1 s2 s3 s4"; otherwise every speaker found).
si_dev_speakers=""  # si: dev speakers (default: see README.md).
si_test_speakers="" # si, unseen: test speakers (default: see README.md).
test_list=""        # overlapped: test list (default: local/lists/overlapped_test.txt).
dev_share=0.05      # Share of utterances for dev (per speaker in sd; of the training pool otherwise).
test_share=0.05     # Share of each speaker's utterances for test (sd).
seed=0              # Seed of the random split.
datadir=data        # Output folder of the sets.

help_message="Usage: $0 [--grid_root DIR] [--protocol sd|si|overlapped|unseen] [--speakers 's1 s2 ...']
  [--seed N] [--si_dev_speakers '...'] [--si_test_speakers '...'] [--test_list FILE]
  [--dev_share 0.05] [--test_share 0.05] [--datadir data]"

# shellcheck disable=SC1091
. ./path.sh
# shellcheck disable=SC1091
. ./db.sh
# shellcheck disable=SC1091
. utils/parse_options.sh || exit 1
[ $# -eq 0 ] || { echo "${help_message}" >&2; exit 1; }
[ -n "${grid_root}" ] || grid_root=${GRID}
[ -d "${grid_root}" ] || { log "GRID not found at '${grid_root}': set GRID in db.sh or pass --grid_root"; exit 1; }

opts=(--grid_root "${grid_root}" --protocol "${protocol}" --seed "${seed}" --datadir "${datadir}"
  --dev_share "${dev_share}" --test_share "${test_share}")
[ -z "${speakers}" ] || opts+=(--speakers "${speakers}")
[ -z "${si_dev_speakers}" ] || opts+=(--si_dev_speakers "${si_dev_speakers}")
[ -z "${si_test_speakers}" ] || opts+=(--si_test_speakers "${si_test_speakers}")
if [ "${protocol}" = overlapped ]; then
  opts+=(--test_list "${test_list:-local/lists/overlapped_test.txt}")
fi

log "preparing GRID (${protocol}) from ${grid_root}"
python -m lipsound2.bin.prepare_corpus grid "${opts[@]}"
for part in train dev test; do
  dir=${datadir}/${part}_${protocol}
  vopts=(--no-feats)
  [ -f "${dir}/wav.scp" ] || vopts+=(--no-wav)
  utils/validate_data_dir.sh "${vopts[@]}" "${dir}"
done
log "done"
