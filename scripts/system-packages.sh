#!/usr/bin/env bash
# Install the Debian packages a target needs, only when they are missing.
#   test   what the test suite uses: dcmtk clients, Chromium (browser tests), espeak-ng
#          (speech test), DejaVu fonts (report PDFs), PostgreSQL (second test pass), and
#          configurable-http-proxy from npm (JupyterHub end-to-end test)
#   bench  Orthanc and its DICOMweb plugin, the peer the benchmarks measure against
set -euo pipefail
target=${1:?usage: system-packages.sh test|bench}
case "$target" in
  test)  packages=(dcmtk chromium espeak-ng fonts-dejavu-core postgresql) ;;
  bench) packages=(orthanc orthanc-dicomweb) ;;
  *) echo "unknown target $target" >&2; exit 2 ;;
esac
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
apt_install() {
  echo "installing Debian packages: $*"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
if [ "$target" = test ] && ! command -v configurable-http-proxy >/dev/null; then
  command -v npm >/dev/null || apt_install nodejs npm
  $SUDO npm install -g --silent configurable-http-proxy >/dev/null
fi
if [ "$target" = bench ] && [ ${#missing[@]} -gt 0 ]; then
  # The Debian package starts a system Orthanc on 8042/4242; the benchmark runs its own.
  (command -v systemctl >/dev/null && $SUDO systemctl disable --now orthanc 2>/dev/null) || true
  (command -v service >/dev/null && $SUDO service orthanc stop 2>/dev/null) || true
fi
