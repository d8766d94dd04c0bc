#!/bin/sh
# Adds deformity-app to the desktop's application menu and associates DICOM films and
# *.case.json files with it. For the current user; with --system (as root) for all users.
# Run from the program's folder; it refers to the program where the folder is now.
# --uninstall removes what it added.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
case "${1:-}" in
  --system) share=/usr/share ;;
  ""|--uninstall) share="${XDG_DATA_HOME:-$HOME/.local/share}" ;;
  *) echo "usage: $0 [--system] [--uninstall]" >&2; exit 2 ;;
esac
apps="$share/applications"; icons="$share/icons/hicolor/256x256/apps"; mime="$share/mime"
if [ "${1:-}" = "--uninstall" ]; then
  rm -f "$apps/deformity-app.desktop" "$icons/deformity-app.png" "$mime/packages/deformity-app-mime.xml"
else
  mkdir -p "$apps" "$icons" "$mime/packages"
  # the desktop entry names the program by its full path (quoted: the folder may contain spaces)
  sed -e "s|^Exec=deformity-app|Exec=\"$here/deformity-app\"|" -e "s|^TryExec=deformity-app|TryExec=$here/deformity-app|" \
    "$here/deformity-app.desktop" > "$apps/deformity-app.desktop"
  cp "$here/deformity-app.png" "$icons/deformity-app.png"
  cp "$here/deformity-app-mime.xml" "$mime/packages/deformity-app-mime.xml"
fi
command -v update-mime-database >/dev/null 2>&1 && update-mime-database "$mime" >/dev/null 2>&1 || true
command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$apps" >/dev/null 2>&1 || true
command -v gtk-update-icon-cache >/dev/null 2>&1 && gtk-update-icon-cache -q "$share/icons/hicolor" >/dev/null 2>&1 || true
echo "deformity-app: desktop entry ${1:+(${1#--}) }done in $share"
