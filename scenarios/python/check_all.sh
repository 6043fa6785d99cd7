#!/usr/bin/env bash
# Developer aid: every twin of GROUP on asyncio and uvloop, then on each mutant it declares.
cd "$(dirname "$0")"; P=${PY:-python3}
for s in $($P -c "import $1 as m; print(' '.join(m.TWINS))"); do
  for l in asyncio uvloop; do echo "$s $l: $(timeout 20 $P twin.py --scenario $s --loop $l 2>&1 | tail -1 | cut -c16-${W:-170})"; done
  for m in $($P -c "import $1 as m; print(' '.join(m.KILLS['$s']))"); do echo "$s !$m: $(timeout 20 $P twin.py --scenario $s --mutant $m 2>&1 | tail -1| cut -c16-60)"; done
done
