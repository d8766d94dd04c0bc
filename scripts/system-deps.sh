#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages the application and its tests need, when they are missing.
# Runs as root, or through sudo when it is available; otherwise it names what is missing and goes on.
set -u
need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

# python3 -m venv needs ensurepip, which Debian ships separately
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
  ver=$(python3 -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
  need+=("python${ver}-venv")
fi
# Qt's platform plugins (offscreen and xcb) load these shared libraries; the tests also use
# poppler (report pages to PNG), a real PACS (Orthanc with DICOMweb) and dciodvfy (dicom3tools)
for pkg in libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1 libdbus-1-3 libxcb-cursor0 \
           libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-image0 libxcb-render-util0 libglib2.0-0 \
           poppler-utils fonts-dejavu-core orthanc orthanc-dicomweb dicom3tools; do
  command -v dpkg-query >/dev/null 2>&1 || break
  have_pkg "$pkg" || need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0
command -v apt-get >/dev/null 2>&1 || { echo "system-deps: not a Debian/Ubuntu system; please install: ${need[*]}"; exit 0; }
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
  echo "system-deps: run as root to install: ${need[*]}"; exit 0; fi
echo "system-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null 2>&1 || true
# packages absent from an older release are skipped one by one rather than failing the whole set
if ! $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1; then
  for pkg in "${need[@]}"; do
    $SUDO apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null 2>&1 || echo "system-deps: could not install $pkg"
  done
fi
exit 0
