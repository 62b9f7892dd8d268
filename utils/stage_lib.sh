# shellcheck shell=bash
# What the stage scripts (lipsound2.sh, lipreading.sh) share: logging and done markers.
# Source it after setting ${python}:  . utils/stage_lib.sh
#
# Done markers (lipsound2/recipe/marker.py): DIR/.done.NAME holds the key of a finished step,
# the settings it read (config files by content, options) and a fingerprint of its inputs
# (tables and the files they list, models). KEY is a list of `python -m lipsound2.bin.step`
# options: --conf ROLE=FILE [--sections ROLE=...], --opt NAME=VALUE, --table, --corpus, --file,
# --tree.
# shellcheck disable=SC2154  # python: set by the script that sources this

log() {
  local fname=${BASH_SOURCE[1]##*/}
  echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${fname}:${BASH_LINENO[0]}:${FUNCNAME[1]}) $*" >&2
}

# step_done STAGE WHAT DIR NAME KEY... [--stale GLOB...]: true (and logs "done") when
# DIR/.done.NAME holds this key. Otherwise it logs "new", "resuming" (an interrupted run with
# the same key) or "redo" with what changed (after removing the --stale outputs), and is false.
step_done() {
  local rc=0
  ${python} -m lipsound2.bin.step check --stage "$1" --what "$2" --dir "$3" --name "$4" "${@:5}" || rc=$?
  [ "${rc}" -eq 0 ] && return 0
  [ "${rc}" -eq 10 ] || exit "${rc}"  # 10: the step must run; anything else is an error
  return 1
}

# step_mark DIR NAME KEY...: the step finished; records its key (built anew, so a step whose
# inputs exist only once it ran, such as data preparation, records them too).
step_mark() { ${python} -m lipsound2.bin.step mark --dir "$1" --name "$2" "${@:3}"; }

# has_done DIR NAME: whether the step finished once (whatever its key)
has_done() { [ -f "$1/.done.$2" ]; }
