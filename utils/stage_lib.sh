# shellcheck shell=bash
# What the stage scripts (lipsound2.sh, lipreading.sh) share: logging, the help list and checks
# of options, job splits, done markers and reading the lists the stage programs print.
# Source it after setting ${python}:  . utils/stage_lib.sh
#
# Done markers (lipsound2/recipe/marker.py): DIR/.done.NAME holds the key of a finished step,
# the settings it read (config files by content, options) and a fingerprint of its inputs
# (tables and the files they list, models). KEY is a list of `python -m lipsound2.bin.step`
# options: --conf ROLE=FILE [--sections ROLE=...], --opt NAME=VALUE, --table, --corpus, --file,
# --tree.
# shellcheck disable=SC2154  # python: set by the script that sources this

# log MESSAGE: a timestamped line naming the script, line and function that logs it; a helper of
# this file (usage_error, check_choice, ...) names the line of the script that called it instead.
log() {
  local i=1
  while [ "${BASH_SOURCE[i]##*/}" = stage_lib.sh ] && [ $((i + 1)) -lt ${#BASH_SOURCE[@]} ]; do
    i=$((i + 1))
  done
  echo -e "$(date '+%Y-%m-%dT%H:%M:%S') (${BASH_SOURCE[i]##*/}:${BASH_LINENO[i - 1]}:${FUNCNAME[i]}) $*" >&2
}

# option_help FILE...: the help list of the options FILE declares (up to its help_message), made
# from the declarations themselves: `name=default  # what it does`, indented comment lines below
# continuing it, a `# Title` line above a declaration starting a group.
option_help() {
  awk '
    function flush() { if (name != "") printf "  --%-26s %s%s\n", name, doc, dflt == "" ? "" : " [" dflt "]"; name = "" }
    /^help_message=/ { flush(); nextfile }
    /^[a-z][a-z0-9_]*=/ && !/^[a-z0-9_]*=\$\(/ {
      flush()
      if (title != "") printf "\n%s\n", title
      title = ""
      name = substr($0, 1, index($0, "=") - 1)
      dflt = substr($0, length(name) + 2)
      doc = ""
      if (index(dflt, "#")) { doc = substr(dflt, index(dflt, "#") + 1); dflt = substr(dflt, 1, index(dflt, "#") - 1) }
      gsub(/^[ \t]+|[ \t]+$/, "", dflt); gsub(/^"|"$/, "", dflt); gsub(/^[ \t]+/, "", doc)
      next
    }
    /^[ \t]+# / && name != "" { sub(/^[ \t]+# /, ""); doc = doc "\n" sprintf("%31s", "") $0; next }
    /^# [A-Z]/ { flush(); title = substr($0, 3); next }
    { flush(); title = "" }
    END { flush() }
  ' "$@"
}

# option_names FILE...: the names of the options FILE declares, one a line (those option_help lists)
option_names() { option_help "$@" | awk '/^  --/ { print substr($1, 3) }'; }

min() { if [ "$1" -le "$2" ]; then echo "$1"; else echo "$2"; fi; }
# unique WORD...: the words, each once, in their first order
unique() {
  local w out=""
  for w in "$@"; do
    case " ${out} " in *" ${w} "*) ;; *) out="${out:+${out} }${w}" ;; esac
  done
  echo "${out}"
}
# split_for_jobs MAX_JOBS SCP PREFIX: split SCP into PREFIX.1.scp .. PREFIX.N.scp with
# N = min(MAX_JOBS, lines of SCP); sets _nj to N and _outputs to the N jobs' output folders
# (output.1 .. output.N beside PREFIX).
split_for_jobs() {
  local n parts=()
  _nj=$(min "$1" "$(wc -l <"$2")")
  _outputs=()
  for n in $(seq "${_nj}"); do
    parts+=("$3.${n}.scp")
    _outputs+=("$(dirname "$3")/output.${n}")
  done
  utils/split_scp.sh "$2" "${parts[@]}"
}

# Option checks: a bad option stops the script with a line that names it
usage_error() {
  log "Error: $*; see $0 --help"
  exit 1
}
# check_choice NAME CHOICE...: option --NAME is one of CHOICE...
check_choice() {
  local name=$1 choice
  shift
  for choice in "$@"; do [ "${!name}" != "${choice}" ] || return 0; done
  usage_error "--${name} must be one of: $*; got '${!name}'"
}
# check_int MIN NAME...: each option --NAME is a whole number, at least MIN
check_int() {
  local least=$1 name
  shift
  for name in "$@"; do
    if ! [[ ${!name} =~ ^[0-9]+$ ]] || [ "${!name}" -lt "${least}" ]; then
      usage_error "--${name} must be a whole number >= ${least}; got '${!name}'"
    fi
  done
}
# require NAME WHY: option --NAME is not empty
require() { [ -n "${!1// /}" ] || usage_error "--$1 is required${2:+ $2}"; }

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

# read_lines ARRAY CMD...: the lines CMD prints, one item each, into the array ARRAY (the
# stage programs print lists so: paths with spaces stay whole); a failing CMD stops the script.
read_lines() {
  local -n _lines_to=$1
  local _lines_out
  _lines_out=$("${@:2}") || exit $?
  _lines_to=()
  [ -z "${_lines_out}" ] || mapfile -t _lines_to <<<"${_lines_out}"
}
