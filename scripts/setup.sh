#!/usr/bin/env bash
# Builds (or reuses) the two Python environments of paychat.
#
# Each environment lives in a cache folder keyed by the sha256 of its lock file, so a fresh
# clone on the same machine (which is what CI uses) reuses it and a second run installs nothing.
# .venvs/rasa and .venvs/app in the checkout are symlinks to the cached environments.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
cache="${PAYCHAT_CACHE:-$HOME/.cache/paychat}"
uv_version="0.13.9"
mkdir -p "$cache" "$here/.venvs"

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

# uv installs the locked, hashed requirements several times faster than pip.
uv_bin="$cache/tools/uv-$uv_version/bin/uv"
if [ ! -x "$uv_bin" ]; then
  log "installing uv $uv_version (the installer of both environments)"
  python3 -m venv "$cache/tools/uv-$uv_version"
  "$cache/tools/uv-$uv_version/bin/pip" install -q --disable-pip-version-check "uv==$uv_version"
fi

find_python310() {
  local candidate
  for candidate in "$(command -v python3.10 2>/dev/null || true)" \
                   "$(pyenv prefix 3.10 2>/dev/null | head -n1)/bin/python3.10" \
                   "$(ls -d "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.10.*/bin/python3.10 2>/dev/null | tail -n1)"; do
    # A pyenv shim exists even when 3.10 is not selected: only a candidate that runs counts.
    if [ -n "$candidate" ] && [ -x "$candidate" ] \
       && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  return 1
}

# build_env NAME PYTHON LOCKFILE
build_env() {
  local name="$1" python="$2" lock="$3"
  local key; key="$(cat "$lock" | sha256sum | cut -c1-16)"
  local target="$cache/venvs/$name-$key"
  if [ ! -f "$target/.complete" ]; then
    log "building the $name environment in $target (lock $key); the first time takes minutes"
    rm -rf "$target"
    "$uv_bin" venv -q --python "$python" "$target"
    VIRTUAL_ENV="$target" "$uv_bin" pip sync --require-hashes --python "$target/bin/python" "$lock"
    touch "$target/.complete"
  else
    log "$name environment is up to date ($key)"
  fi
  ln -sfn "$target" "$here/.venvs/$name"
}

what="${1:-all}"
if [ "$what" = "all" ] || [ "$what" = "rasa" ]; then
  py310="$(find_python310)" || {
    echo "paychat needs Python 3.10 for the Rasa server (Rasa 3.6 supports 3.8-3.10)." >&2
    echo "Install it, e.g. 'pyenv install 3.10.13' or 'apt-get install python3.10 python3.10-venv'," >&2
    echo "so that 'python3.10' runs, then run 'make setup' again." >&2
    exit 1
  }
  build_env rasa "$py310" "$here/requirements/rasa.lock"
fi
if [ "$what" = "all" ] || [ "$what" = "app" ]; then
  # The checkout itself is put on PYTHONPATH by the Makefile, so the cached env serves any clone.
  build_env app "$(command -v python3)" "$here/requirements/app.lock"
fi
