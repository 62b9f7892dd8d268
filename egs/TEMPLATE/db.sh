# shellcheck shell=bash
# Where the corpora live on this machine. Set these once per site; recipes read them.
GRID=${GRID:-downloads/grid}
TCD_TIMIT=${TCD_TIMIT:-downloads/tcd_timit}
CMLR=${CMLR:-downloads/cmlr}
VOXCELEB2=${VOXCELEB2:-downloads/voxceleb2}
LIBRISPEECH=${LIBRISPEECH:-downloads/LibriSpeech}
export GRID TCD_TIMIT CMLR VOXCELEB2 LIBRISPEECH
