# Shared by scripts/demo and scripts/test (sourced, not run): installs the
# Debian packages that are missing, then configures and builds a build folder.
# Re-running is cheap: apt-get runs only when something is missing, and meson
# only rebuilds what changed.

set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$top"

# need_packages PACKAGE... : install the Debian packages not yet installed.
need_packages () {
  local missing=() pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0

  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
      sudo=(sudo)
    else
      echo "Missing packages: ${missing[*]}" >&2
      echo "Install them with:" >&2
      echo "  sudo apt-get update && sudo apt-get install -y ${missing[*]}" >&2
      exit 1
    fi
  fi
  echo "Installing ${missing[*]} ..." >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
}

# build_in DIR [MESON_OPTION...] : configure DIR once, then build it,
# quietly unless something fails.
build_in () {
  local dir=$1; shift
  local log
  log=$(mktemp)
  if { [ -f "$dir/build.ninja" ] || meson setup "$dir" "$@" >"$log" 2>&1; } &&
     meson compile -C "$dir" >"$log" 2>&1; then
    rm -f "$log"
    return 0
  fi
  cat "$log" >&2
  rm -f "$log"
  echo "Building in $dir failed." >&2
  return 1
}

need_packages build-essential pkg-config libglib2.0-dev libpcre2-dev meson ninja-build
