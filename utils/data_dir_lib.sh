# shellcheck shell=bash
# Shared by the data-dir tools (sourced, not run).
#
# A data dir holds tables: lines "KEY VALUE...", the key being the first blank-separated field
# (a value may contain spaces), keys unique and in increasing byte order (LC_ALL=C).
#  - per-utterance tables (keyed by utterance; together they define the utterance set):
#    text, utt2*, and *.scp except cmvn.scp, e.g. utt2spk, wav.scp, video.scp, feats.scp,
#    utt2num_frames, utt2num_vframes;
#  - per-speaker tables: spk2utt (always derived from utt2spk) and spk2* such as spk2gender,
#    plus cmvn.scp;
#  - rejects: utterances a stage rejected, with the reason; kept and filtered along, but it does
#    not take part in deciding which utterances a data dir holds.
export LC_ALL=C

dd_die() {
  echo "$(basename "$0"): $*" >&2
  exit 1
}

# Names of the per-utterance tables in DIR, one per line, in byte order.
dd_utt_files() {
  local path name
  for path in "$1"/*; do
    [ -f "${path}" ] || continue
    name=${path##*/}
    case "${name}" in
      cmvn.scp) ;;
      text | utt2* | *.scp) echo "${name}" ;;
    esac
  done
}

# Names of the per-speaker tables in DIR other than spk2utt.
dd_spk_files() {
  local path name
  for path in "$1"/*; do
    [ -f "${path}" ] || continue
    name=${path##*/}
    case "${name}" in
      spk2utt) ;;
      spk2* | cmvn.scp) echo "${name}" ;;
    esac
  done
}

# dd_filter IDLIST IN [FIELD [EXCLUDE]]: the lines of IN whose FIELD-th field (default 1) is
# (EXCLUDE=0) or is not (EXCLUDE=1) a key of IDLIST; "-" reads stdin. Order is kept.
dd_filter() {
  awk -v field="${3:-1}" -v exclude="${4:-0}" '
    BEGIN {
      while ((status = (getline line < ARGV[1])) > 0) {
        if (split(line, f) > 0) keep[f[1] ""] = 1
      }
      if (status < 0) { print "cannot read " ARGV[1] > "/dev/stderr"; exit 2 }
      ARGV[1] = ""
    }
    { hit = (($field "") in keep); if (hit != exclude) print }
  ' "$1" "$2"
}

# utt2spk (file or stdin) -> spk2utt on stdout, speakers in byte order, utterances in input order.
dd_utt2spk_to_spk2utt() {
  awk '
    NF == 0 { next }
    NF != 2 { printf "line %d of utt2spk is not \"UTT SPK\": %s\n", NR, $0 > "/dev/stderr"; bad = 1; exit 1 }
    { spk = $2 ""; if (spk in utts) utts[spk] = utts[spk] " " $1; else utts[spk] = $1 }
    END { if (!bad) for (spk in utts) print spk, utts[spk] }
  ' "${1:--}" | sort -k1,1
}

# spk2utt (file or stdin) -> utt2spk on stdout, in byte order of utterance.
dd_spk2utt_to_utt2spk() {
  awk '{ for (i = 2; i <= NF; i++) print $i, $1 }' "${1:--}" | sort -s -k1,1
}

# dd_convert_main FUNC USAGE ARGS...: the command line of a table converter, [IN|- [OUT]]: FUNC
# reads IN (default stdin) and its output goes to OUT, atomically, or to stdout.
dd_convert_main() {
  local func=$1 usage=$2 in
  shift 2
  case "${1:-}" in -h | --help) echo "${usage}" && exit 0 ;; -?*) echo "${usage}" >&2 && exit 1 ;; esac
  [ $# -le 2 ] || { echo "${usage}" >&2; exit 1; }
  in=${1:--}
  [ "${in}" = - ] || [ -f "${in}" ] || dd_die "'${in}' not found"
  if [ $# -eq 2 ]; then
    "${func}" "${in}" >"$2.tmp.$$"
    mv -f -- "$2.tmp.$$" "$2"
  else
    "${func}" "${in}"
  fi
}

# dd_assign_parts N MODE SCP [UTT2SPK]: "KEY PART" for each line of SCP (PART in 1..N).
# MODE utt: contiguous blocks whose sizes differ by at most one.
# MODE spk: whole speakers, largest first into the least loaded part (ties: lowest part).
dd_assign_parts() {
  local n=$1 mode=$2 scp=$3 utt2spk=${4:-} lines spk_parts
  lines=$(awk 'NF > 0' "${scp}" | wc -l)
  [ "${lines}" -ge "${n}" ] || dd_die "cannot split ${lines} line(s) of ${scp} into ${n} parts"
  if [ "${mode}" = utt ]; then
    awk -v n="${n}" -v lines="${lines}" 'NF > 0 { print $1, int(i++ * n / lines) + 1 }' "${scp}"
    return
  fi
  spk_parts=$(mktemp)
  awk '
    BEGIN {
      while ((getline line < ARGV[1]) > 0) if (split(line, f) >= 2) spk_of[f[1] ""] = f[2]
      ARGV[1] = ""
    }
    NF == 0 { next }
    !(($1 "") in spk_of) { printf "utterance %s has no speaker in utt2spk\n", $1 > "/dev/stderr"; bad = 1; exit 1 }
    { spk = spk_of[$1 ""]; if (!(spk in count)) first[spk] = NR; count[spk]++ }
    END { if (!bad) for (spk in count) print spk, count[spk], first[spk] }
  ' "${utt2spk}" "${scp}" | sort -k2,2nr -k3,3n |
    awk -v n="${n}" '
      { best = 1; for (p = 2; p <= n; p++) if (load[p] < load[best]) best = p
        load[best] += $2; print $1, best }
      END { if (NR < n) { printf "cannot split %d speaker(s) into %d parts\n", NR, n > "/dev/stderr"; exit 1 } }
    ' >"${spk_parts}" || { rm -f "${spk_parts}"; return 1; }
  awk '
    BEGIN {
      while ((getline line < ARGV[1]) > 0) { split(line, f); part[f[1] ""] = f[2] }
      while ((getline line < ARGV[2]) > 0) if (split(line, f) >= 2) spk_of[f[1] ""] = f[2]
      ARGV[1] = ""; ARGV[2] = ""
    }
    NF > 0 { print $1, part[spk_of[$1 ""]] }
  ' "${spk_parts}" "${utt2spk}" "${scp}"
  rm -f "${spk_parts}"
}

# dd_write_parts ASSIGN IN OUTLIST: writes each line of IN to the output named on line PART of
# OUTLIST, PART being its key's part in ASSIGN ("KEY PART" lines); keys not in ASSIGN are
# dropped. Every output is created, possibly empty.
dd_write_parts() {
  awk '
    BEGIN {
      while ((getline line < ARGV[1]) > 0) { split(line, f); part[f[1] ""] = f[2] }
      while ((getline line < ARGV[2]) > 0) { out[++n] = line; printf "" > line }
      ARGV[1] = ""; ARGV[2] = ""
    }
    NF > 0 && (($1 "") in part) { print > out[part[$1 ""]] }
  ' "$1" "$3" "$2"
}

# dd_clean IN OUT MIN_FIELDS: OUT = IN without blank lines, lines with fewer than MIN_FIELDS
# fields and leading blanks, stably sorted by key, keeping the first line of each key.
# Prints the counts "BLANK SHORT DUPLICATES" removed.
dd_clean() {
  local kept stats
  stats=$(awk -v min="$3" '/^[ \t\r]*$/ { b++; next } NF < min { s++; next } { k++ }
    END { print b + 0, s + 0, k + 0 }' "$1")
  awk -v min="$3" '/^[ \t\r]*$/ || NF < min { next } { sub(/^[ \t]+/, ""); print }' "$1" |
    sort -s -k1,1 | awk '($1 "") == prev { next } { prev = $1 ""; print }' >"$2"
  read -r -a kept <<<"${stats}"
  echo "${kept[0]} ${kept[1]} $((kept[2] - $(wc -l <"$2")))"
}

# The minimal number of fields a line of table NAME must have (text may be empty).
dd_min_fields() {
  case "$1" in
    text) echo 1 ;;
    *) echo 2 ;;
  esac
}

# dd_install TMP DEST: moves the tables built in TMP into DEST, first removing DEST's tables
# (per-utterance, per-speaker, rejects) that TMP does not have, then removes TMP.
dd_install() {
  local tmp=$1 dest=$2 name
  mkdir -p -- "${dest}"
  while read -r name; do
    [ -e "${tmp}/${name}" ] || rm -f -- "${dest:?}/${name}"
  done < <(dd_utt_files "${dest}"; dd_spk_files "${dest}"; echo spk2utt; echo rejects)
  for name in "${tmp}"/*; do
    [ -e "${name}" ] || continue
    mv -f -- "${name}" "${dest}/"
  done
  rmdir -- "${tmp}"
}

# dd_subset_into SRC UTTLIST TMP: TMP gets every table of SRC restricted to the utterances of
# UTTLIST (first field), spk2utt rebuilt, per-speaker tables restricted to the kept speakers.
dd_subset_into() {
  local src=$1 list=$2 tmp=$3 name
  while read -r name; do
    dd_filter "${list}" "${src}/${name}" >"${tmp}/${name}"
  done < <(dd_utt_files "${src}")
  [ ! -f "${src}/rejects" ] || dd_filter "${list}" "${src}/rejects" >"${tmp}/rejects"
  dd_utt2spk_to_spk2utt "${tmp}/utt2spk" >"${tmp}/spk2utt"
  while read -r name; do
    dd_filter "${tmp}/spk2utt" "${src}/${name}" >"${tmp}/${name}"
  done < <(dd_spk_files "${src}")
}
