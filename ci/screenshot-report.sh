#!/usr/bin/env bash
# Screenshots a loopbench HTML report with headless Chromium and checks what came out:
# fails when the PNG is missing or nearly blank, or when the page text shows an error marker.
#
# Usage: ci/screenshot-report.sh REPORT_DIR OUT_PNG
# Environment: WINDOW (default 1400,4000) sets the window size of the screenshot.
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 REPORT_DIR OUT_PNG" >&2
    exit 2
fi
report_dir=$1
out_png=$2
index=$(realpath -e "$report_dir/index.html" 2>/dev/null) || {
    echo "screenshot-report: no index.html in $report_dir" >&2
    exit 1
}

browser=$(command -v chromium || command -v chromium-browser || true)
if [[ -z $browser ]]; then
    echo "screenshot-report: installing chromium" >&2
    sudo=""
    [[ $(id -u) -ne 0 ]] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
    browser=$(command -v chromium)
fi

profile=$(mktemp -d)
dom=$(mktemp)
trap 'rm -rf "$profile" "$dom"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
    --disable-background-networking --disable-component-update --disable-sync
    --user-data-dir="$profile")

rm -f "$out_png"
mkdir -p "$(dirname "$out_png")"
timeout 180 "$browser" "${flags[@]}" --screenshot="$(realpath -m "$out_png")" \
    --window-size="${WINDOW:-1400,4000}" "file://$index" >/dev/null 2>&1 || true
timeout 180 "$browser" "${flags[@]}" --dump-dom "file://$index" >"$dom" 2>/dev/null || true

if [[ ! -s $out_png ]]; then
    echo "screenshot-report: chromium wrote no screenshot to $out_png" >&2
    exit 1
fi

# A Python with Pillow: the one on PATH, Debian's, or a throw-away venv.
py=""
for candidate in python3 /usr/bin/python3; do
    if command -v "$candidate" >/dev/null && "$candidate" -c 'import PIL' 2>/dev/null; then
        py=$candidate
        break
    fi
done
if [[ -z $py ]]; then
    venv="$profile/venv"
    python3 -m venv "$venv" >/dev/null && "$venv/bin/pip" install -q pillow >/dev/null && py="$venv/bin/python"
fi

python3 - "$dom" <<'PY'
import html, re, sys
text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
if not text.strip():
    sys.exit("screenshot-report: chromium could not load the page (empty DOM)")
body = re.sub(r"<style.*?</style>", " ", text, flags=re.S)
body = html.unescape(re.sub(r"<[^>]+>", " ", body))
# A Rust panic message leaking into the page reads "thread 'main' panicked at src/...";
# bare "panicked" is data: conformance observations record a joined task's panic as
# {"panicked": "..."}.
markers = ["panicked at", "NaN", "inf msg/s", "cannot draw chart", "ReportError", "\ufffd"]
found = [m for m in markers if m in body]
if found:
    sys.exit(f"screenshot-report: the page shows error markers: {found}")
if "loopbench report" not in body:
    sys.exit("screenshot-report: the page has no 'loopbench report' title")
PY

if [[ -n $py ]]; then
    "$py" - "$out_png" <<'PY'
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB")
w, h = im.size
small = im.resize((max(1, w // 2), max(1, h // 2)))
colors = small.getcolors(maxcolors=1 << 20) or []
non_white = sum(n for n, c in colors if min(c) < 235)
share = non_white / (small.size[0] * small.size[1])
print(f"screenshot-report: {w}x{h}, {len(colors)} colours, {share:.1%} non-white")
if len(colors) < 16 or share < 0.01:
    sys.exit("screenshot-report: the screenshot is nearly blank")
PY
else
    # No Pillow: judge the compressed image data without decoding it.
    python3 - "$out_png" <<'PY'
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
if data[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit("screenshot-report: not a PNG")
pos, idat = 8, b""
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    if kind == b"IDAT":
        idat += data[pos + 8:pos + 8 + n]
    pos += 12 + n
raw = zlib.decompress(idat)
distinct = len(set(raw[::7]))
nonzero = sum(1 for b in raw[::97] if b) / len(raw[::97])
print(f"screenshot-report: {distinct} distinct byte values, {nonzero:.1%} non-zero filtered bytes")
if distinct < 16 or nonzero < 0.005:
    sys.exit("screenshot-report: the screenshot is nearly blank")
PY
fi
echo "screenshot-report: $out_png ok"
