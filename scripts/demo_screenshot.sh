#!/usr/bin/env bash
# Render a demo report in headless Chromium and save a full-height screenshot, to check that
# the page opens from disk with nothing else (Debian: apt-get install chromium).
#   scripts/demo_screenshot.sh [out/demo/index.html] [screenshot.png]
set -euo pipefail
page="$(realpath "${1:-out/demo/index.html}")"
shot="${2:-${page%.html}.png}"
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --window-size=1200,5200 --screenshot="$shot" "file://$page" \
  2>/dev/null
echo "$shot"
