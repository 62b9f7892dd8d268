#!/usr/bin/env bash
# spk2utt -> utt2spk ("UTT SPK"), in byte order of utterance.
set -euo pipefail
export LC_ALL=C
# shellcheck source=utils/data_dir_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/data_dir_lib.sh"

usage="Usage: $(basename "$0") [SPK2UTT|- [UTT2SPK]]
Reads spk2utt from the file or stdin; writes utt2spk to the file (atomically) or stdout."
dd_convert_main dd_spk2utt_to_utt2spk "${usage}" "$@"
