#!/usr/bin/env bash
# Install everything gridwatch needs: Debian packages (as root) and a virtual
# environment at .venv/ with the project and its Python dependencies.
# Safe to repeat: it skips what is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: GStreamer's RTSP server (test cameras, demo), Debian's real street
# clip (opencv-doc: vtest.avi) for the test scenes, Chromium for the browser tests
# (driven by Playwright with this executable; nothing is downloaded) and a CJK font so
# Chinese labels render in its screenshots.
APT_PACKAGES=(
  gir1.2-gst-rtsp-server-1.0 python3-gst-1.0 gstreamer1.0-plugins-base
  gstreamer1.0-plugins-good gstreamer1.0-plugins-bad gstreamer1.0-rtsp opencv-doc
  chromium fonts-noto-cjk
)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -eq 0 ]]; then
    echo "bootstrap: installing Debian packages: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "bootstrap: please install these Debian packages (as root):" >&2
    echo "  sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    echo "bootstrap: continuing; tests that need them will be skipped with a message" >&2
  fi
fi

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "bootstrap: Python 3.11 or newer is required (set PYTHON=/path/to/python3.11)" >&2
  exit 1
fi
[[ -x .venv/bin/python ]] || "$PYTHON" -m venv .venv

# Re-run pip only when the dependency declarations changed.
stamp=.venv/.gridwatch-installed
want=$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -d' ' -f1)
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
  exit 0
fi
pip=(.venv/bin/python -m pip install --disable-pip-version-check -q)
"${pip[@]}" --upgrade pip
# torch and torchvision as a matching pair (PyPI's torchvision does not import next to
# some torch builds); override with TORCH_SPEC for another platform.
# shellcheck disable=SC2086
"${pip[@]}" ${TORCH_SPEC:-torch==2.14.1 torchvision==0.29.1}
"${pip[@]}" -e '.[edge,dev]'
echo "$want" > "$stamp"
echo "bootstrap: .venv is ready"
