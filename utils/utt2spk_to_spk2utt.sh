#!/usr/bin/env bash
# utt2spk -> spk2utt ("SPK UTT1 UTT2 ..."), speakers in byte order, utterances in input order.
set -euo pipefail
export LC_ALL=C
# shellcheck source=utils/data_dir_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/data_dir_lib.sh"

usage="Usage: $(basename "$0") [UTT2SPK|- [SPK2UTT]]
Reads utt2spk from the file or stdin; writes spk2utt to the file (atomically) or stdout."
dd_convert_main dd_utt2spk_to_spk2utt "${usage}" "$@"
