#!/usr/bin/env bash
# Checks the layout of a loopbench HTML report in headless Chromium, 1280 px wide: nothing
# wider than the viewport, no text box cut by its cell or overlapping another in the tables
# (the conformance matrix first: with its folded rows shown, and each detail panel open),
# and every chart with a title, axis titles, tick labels and a legend, inside the chart.
# The checks are ci/check-layout.js, injected into a copy of the page; Chromium runs it and
# dumps the DOM (--dump-dom), where the script left its findings.
#
# Usage: ci/check-layout.sh REPORT_DIR|PAGE.html
# Environment: WIDTH (default 1280) and HEIGHT (default 1000) of the window (scrollbars
# shown, as in a desktop browser: the page has 1265 px of 1280).
# Output: one line per problem, "layout: KIND: what" (KIND: too-wide, cut, overlap, chart),
# then one closing line. Exit status: 0 no problem, 1 problems, 2 unusable input, no
# browser, or the checks could not run.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 REPORT_DIR|PAGE.html" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
page=$1
[[ -d $page ]] && page=$page/index.html
if [[ ! -f $page ]]; then
    echo "check-layout: no such page: $page" >&2
    exit 2
fi
browser=$(command -v chromium || command -v chromium-browser || true)
if [[ -z $browser ]]; then
    echo "check-layout: chromium not found (Debian: apt-get install chromium)" >&2
    exit 2
fi
width=${WIDTH:-1280}
height=${HEIGHT:-1000}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# A copy of the page's directory, so the page keeps its neighbours; the script goes in last.
mkdir "$work/page" "$work/profile"
cp -R "$(dirname "$page")/." "$work/page/"
copy="$work/page/$(basename "$page")"
python3 - "$copy" "$here/check-layout.js" <<'PY'
import sys
path, script = sys.argv[1], open(sys.argv[2], encoding="utf-8").read()
html = open(path, encoding="utf-8").read()
tag = "<script>\n" + script + "\n</script>\n"
at = html.rfind("</body>")
html = html[:at] + tag + html[at:] if at >= 0 else html + tag
open(path, "w", encoding="utf-8").write(html)
PY

flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
    --disable-background-networking --disable-component-update --disable-sync
    --user-data-dir="$work/profile" --window-size="$width,$height"
    --virtual-time-budget=15000)
status=0
timeout 180 "$browser" "${flags[@]}" --dump-dom "file://$copy" >"$work/dom.html" 2>"$work/stderr" || status=$?
if [[ $status -ne 0 ]]; then
    echo "check-layout: chromium failed (status $status): $(tail -n 3 "$work/stderr" | tr '\n' ' ')" >&2
    exit 2
fi

python3 - "$work/dom.html" "$page" "$width" <<'PY'
import html, re, sys
dom, page, width = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(dom, encoding="utf-8", errors="replace").read()
found = re.findall(r'<pre id="layout-findings">(.*?)</pre>', text, re.S)
if not found:
    print(f"check-layout: the checks did not run on {page} (no findings in the dumped DOM)", file=sys.stderr)
    sys.exit(2)
lines = html.unescape(found[-1]).splitlines()
if "end" not in lines:
    print(f"check-layout: the checks did not finish on {page}", file=sys.stderr)
    sys.exit(2)
info = [l[len("info: "):] for l in lines if l.startswith("info: ")]
problems = [l[len("problem: "):] for l in lines if l.startswith("problem: ")]
for p in problems:
    print(f"layout: {p}")
if any(p.startswith("checker:") for p in problems):
    sys.exit(2)
summary = "; ".join(info)
if problems:
    print(f"check-layout: {len(problems)} problem(s) in {page} at {width} px ({summary})")
    sys.exit(1)
print(f"check-layout: {page} ok at {width} px ({summary})")
PY
