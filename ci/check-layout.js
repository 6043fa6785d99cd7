// The layout checks of ci/check-layout.sh, run inside the page by headless Chromium: it
// measures the laid-out page and writes one line per finding into a <pre> element with the id
// layout-findings, appended to the body, which the shell script reads back from the dumped DOM.
//
// Lines: "problem: KIND: what" (KIND: too-wide, cut, overlap, chart) and "info: ...".
// Checks:
// - too-wide: the document is wider than the viewport, or an element reaches past its right
//   (or left) edge, or is wider than the scrolling or clipping box it sits in (its end is
//   hidden) -- only the outermost such element is named;
// - cut / overlap: in the conformance matrix (and every other table of the page), a text
//   box that runs out of its cell, or two text boxes that overlap; checked with the folded
//   rows shown and hidden, and with each cell's detail panel open, which must fit the
//   viewport too;
// - filter: the matrix's filters (radio buttons cg-* for groups, cs-* for statuses, the fold
//   checkbox cf): every combination shows exactly the rows it should, and one fold line
//   where passing rows are folded;
// - chart: every inline SVG chart has a title (.chart-title), x and y axis titles
//   (.axis-title.x/.y), tick labels on both axes (.tick.x/.y) and a legend (.legend-entry),
//   each inside the chart, and no two of its texts overlap.
(function () {
  "use strict";
  const TOL = 1; // pixels of slack for rounding

  function describe(el) {
    let d = el.tagName.toLowerCase();
    if (el.id) d += "#" + el.id;
    if (el.classList && el.classList.length) d += "." + Array.from(el.classList).join(".");
    const text = (el.textContent || "").replace(/\s+/g, " ").trim();
    if (text) d += ' "' + (text.length > 50 ? text.slice(0, 50) + "…" : text) + '"';
    const section = el.closest("section[id]");
    if (section && section !== el) d += " in #" + section.id;
    return d;
  }

  function quote(text) {
    text = text.replace(/\s+/g, " ").trim();
    return '"' + (text.length > 40 ? text.slice(0, 40) + "…" : text) + '"';
  }

  // Whether `el` is drawn: not display:none, hidden, transparent, or skipped (the content of
  // a closed <details> is laid out on demand but not drawn).
  function visible(el) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) return false;
    if (el.checkVisibility) {
      return el.checkVisibility({ opacityProperty: true, visibilityProperty: true, contentVisibilityAuto: true });
    }
    for (let p = el; p; p = p.parentElement) {
      const d = p.parentElement;
      if (d && d.tagName === "DETAILS" && !d.open && p.tagName !== "SUMMARY") return false;
    }
    const s = getComputedStyle(el);
    return s.visibility !== "hidden" && s.display !== "none" && parseFloat(s.opacity) > 0;
  }

  // The nearest ancestor that clips its content horizontally (overflow other than visible).
  function clipper(el) {
    for (let p = el.parentElement; p && p !== document.body; p = p.parentElement) {
      const ox = getComputedStyle(p).overflowX;
      if (ox !== "visible") return p;
    }
    return null;
  }

  function checkWidth(problems) {
    const vw = document.documentElement.clientWidth;
    const sw = document.documentElement.scrollWidth;
    if (sw > vw) {
      problems.push(`too-wide: the document is ${sw} px wide, the viewport ${vw} px`);
    }
    const named = new Set();
    for (const el of document.body.querySelectorAll("*")) {
      if (el.closest("svg") && el.tagName.toLowerCase() !== "svg") continue;
      if (!visible(el)) continue;
      const r = el.getBoundingClientRect();
      let box = { left: 0, right: vw, what: "the viewport" };
      const c = clipper(el);
      if (c) {
        const cr = c.getBoundingClientRect();
        box = { left: Math.max(0, cr.left), right: Math.min(vw, cr.right), what: describeBox(c) };
      }
      if (r.right <= box.right + TOL && r.left >= box.left - TOL) continue;
      // Only the outermost element that sticks out.
      let parentNamed = false;
      for (let p = el.parentElement; p; p = p.parentElement) {
        if (named.has(p)) {
          parentNamed = true;
          break;
        }
      }
      named.add(el);
      if (parentNamed) continue;
      const over = Math.round(Math.max(r.right - box.right, box.left - r.left));
      problems.push(
        `too-wide: ${describe(el)} reaches ${over} px past ${box.what} ` +
          `(${Math.round(r.left)}..${Math.round(r.right)} px, box ${Math.round(box.left)}..${Math.round(box.right)} px)`
      );
    }
  }

  function describeBox(el) {
    let d = el.tagName.toLowerCase();
    if (el.id) d += "#" + el.id;
    if (el.classList && el.classList.length) d += "." + Array.from(el.classList).join(".");
    return "its box " + d;
  }

  // The text boxes (one per line of each text node) under `root`, outside SVG.
  function textBoxes(root) {
    const boxes = [];
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (!n.nodeValue.trim()) continue;
      const parent = n.parentElement;
      if (!parent || parent.closest("svg, style, script")) continue;
      if (!visible(parent)) continue;
      const range = document.createRange();
      range.selectNodeContents(n);
      for (const r of range.getClientRects()) {
        if (r.width < 0.5 || r.height < 0.5) continue;
        boxes.push({ r, node: n, cell: parent.closest("td, th"), text: n.nodeValue });
      }
    }
    return boxes;
  }

  function overlaps(a, b) {
    const w = Math.min(a.right, b.right) - Math.max(a.left, b.left);
    const h = Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top);
    return w > TOL && h > TOL ? [w, h] : null;
  }

  // Text boxes that leave their cell, and pairs of text boxes that overlap, under `root`.
  function checkText(root, where, problems, seen) {
    const boxes = textBoxes(root);
    for (const b of boxes) {
      if (!b.cell) continue;
      const c = b.cell.getBoundingClientRect();
      const out = Math.max(c.left - b.r.left, b.r.right - c.right, c.top - b.r.top, b.r.bottom - c.bottom);
      if (out > TOL) {
        const line = `cut: text ${quote(b.text)} runs ${Math.round(out)} px out of its cell ${describe(b.cell)}${where}`;
        if (!seen.has(line)) {
          seen.add(line);
          problems.push(line);
        }
      }
    }
    boxes.sort((a, b) => a.r.top - b.r.top);
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length && boxes[j].r.top < boxes[i].r.bottom; j++) {
        if (boxes[i].node === boxes[j].node) continue;
        const o = overlaps(boxes[i].r, boxes[j].r);
        if (!o) continue;
        const section = boxes[i].node.parentElement.closest("section[id]");
        const inside = section ? ` in #${section.id}` : "";
        const line = `overlap: text ${quote(boxes[i].text)} and ${quote(boxes[j].text)} overlap by ${Math.round(o[0])}x${Math.round(o[1])} px${inside}${where}`;
        if (!seen.has(line)) {
          seen.add(line);
          problems.push(line);
        }
      }
    }
    return boxes.length;
  }

  // Each cell's detail panel of the matrix, opened one at a time, must fit the viewport.
  function checkPanels(problems) {
    const vw = document.documentElement.clientWidth;
    let n = 0;
    for (const d of document.querySelectorAll("table details")) {
      const pop = d.querySelector(".pop");
      if (!pop || !visible(d)) continue;
      d.open = true;
      const r = pop.getBoundingClientRect();
      n++;
      if (r.left < -TOL || r.right > vw + TOL) {
        problems.push(`too-wide: the detail panel of ${describe(d.closest("td") || d)} spans ${Math.round(r.left)}..${Math.round(r.right)} px, the viewport 0..${vw} px`);
      } else if (pop.scrollWidth > pop.clientWidth + TOL) {
        problems.push(`cut: the detail panel of ${describe(d.closest("td") || d)} is ${pop.scrollWidth} px wide inside ${pop.clientWidth} px`);
      }
      d.open = false;
    }
    return n;
  }

  // Every combination of group, status and fold shows the rows whose classes match it.
  function checkFilters(problems) {
    const grid = document.querySelector("table.grid");
    if (!grid) return 0;
    const rows = Array.from(grid.querySelectorAll("tbody tr.r"));
    const folds = Array.from(grid.querySelectorAll("tbody tr.fold"));
    const shown = (list) => list.filter((r) => getComputedStyle(r).display !== "none");
    const groups = Array.from(document.querySelectorAll("input[name=cg]"));
    const statuses = Array.from(document.querySelectorAll("input[name=cs]"));
    const fold = document.getElementById("cf");
    const label = (input) => {
      const l = document.querySelector(`label[for="${input.id}"]`);
      return l ? quote(l.textContent) : input.id;
    };
    let n = 0;
    for (const open of fold ? [false, true] : [false]) {
      if (fold) fold.checked = open;
      for (const g of groups) {
        for (const st of statuses) {
          g.checked = true;
          st.checked = true;
          const group = g.id === "cg-all" ? null : g.id.replace("cg-", "g-");
          const status = st.id.replace("cs-", "");
          const inGroup = rows.filter((r) => !group || r.classList.contains(group));
          const expect = inGroup.filter((r) => {
            const pass = r.classList.contains("allpass");
            if (status === "any") return open || !pass;
            if (status === "pass") return pass;
            return r.classList.contains("s-" + status);
          });
          const got = shown(rows);
          const wantFold = status === "any" && inGroup.some((r) => r.classList.contains("allpass")) ? 1 : 0;
          const gotFold = shown(folds).length;
          const state = `group ${label(g)}, status ${label(st)}${open ? ", folded rows open" : ""}`;
          if (got.length !== expect.length || got.some((r) => !expect.includes(r))) {
            problems.push(`filter: ${state} shows ${got.length} rows, expected ${expect.length}`);
          }
          if (gotFold !== wantFold) {
            problems.push(`filter: ${state} shows ${gotFold} fold lines, expected ${wantFold}`);
          }
          n++;
        }
      }
    }
    if (groups.length) groups[0].checked = true;
    if (statuses.length) statuses[0].checked = true;
    if (fold) fold.checked = false;
    return n;
  }

  function chartName(svg) {
    const fig = svg.closest("figure");
    const file = fig && fig.querySelector("a.file");
    if (file) return file.textContent.trim();
    const t = svg.querySelector(".chart-title");
    return t ? quote(t.textContent) : describe(svg);
  }

  function checkCharts(problems) {
    const svgs = Array.from(document.querySelectorAll("svg")).filter(visible);
    for (const svg of svgs) {
      const name = "chart " + chartName(svg);
      const box = svg.getBoundingClientRect();
      const need = [
        [".chart-title", "title"],
        [".axis-title.x", "x axis title"],
        [".axis-title.y", "y axis title"],
        [".tick.x", "x axis tick labels"],
        [".tick.y", "y axis tick labels"],
        [".legend-entry", "legend"],
      ];
      for (const [sel, what] of need) {
        const found = Array.from(svg.querySelectorAll(sel)).filter((t) => t.textContent.trim());
        if (!found.length) problems.push(`chart: ${name} has no ${what} (no non-empty ${sel} text)`);
      }
      const texts = Array.from(svg.querySelectorAll("text")).filter((t) => t.textContent.trim());
      const rects = texts.map((t) => t.getBoundingClientRect());
      texts.forEach((t, i) => {
        const r = rects[i];
        const out = Math.max(box.left - r.left, r.right - box.right, box.top - r.top, r.bottom - box.bottom);
        if (out > TOL) {
          problems.push(`chart: ${name}: text ${quote(t.textContent)} (${t.getAttribute("class") || "unmarked"}) is ${Math.round(out)} px outside the chart`);
        }
      });
      for (let i = 0; i < texts.length; i++) {
        for (let j = i + 1; j < texts.length; j++) {
          const o = overlaps(rects[i], rects[j]);
          if (o) {
            problems.push(`chart: ${name}: texts ${quote(texts[i].textContent)} and ${quote(texts[j].textContent)} overlap by ${Math.round(o[0])}x${Math.round(o[1])} px`);
          }
        }
      }
    }
    return svgs.length;
  }

  function run() {
    const problems = [];
    const info = [];
    info.push(`viewport ${window.innerWidth}x${window.innerHeight} px, client width ${document.documentElement.clientWidth} px`);
    checkWidth(problems);
    const seen = new Set();
    let boxes = 0;
    const tables = Array.from(document.querySelectorAll("table"));
    for (const t of tables) boxes += checkText(t, "", problems, seen);
    const summary = document.querySelector("#summary");
    if (summary) boxes += checkText(summary, "", problems, seen);
    // Folded rows and other toggles shown: check again.
    const toggles = Array.from(document.querySelectorAll("input[type=checkbox]")).filter((c) => !c.checked);
    for (const c of toggles) c.checked = true;
    if (toggles.length) {
      checkWidth(problems);
      for (const t of tables) boxes += checkText(t, " (with the folded rows shown)", problems, seen);
    }
    const panels = checkPanels(problems);
    for (const c of toggles) c.checked = false;
    const filters = checkFilters(problems);
    const charts = checkCharts(problems);
    const grid = document.querySelector("table.grid");
    if (grid) {
      const cols = grid.querySelectorAll("thead th").length - 2;
      const rows = grid.querySelectorAll("tbody tr.r").length;
      info.push(`matrix: ${rows} rows x ${cols} runtimes, ${Math.round(grid.getBoundingClientRect().width)} px wide`);
    }
    info.push(`checked: ${document.body.querySelectorAll("*").length} elements, ${boxes} text boxes, ${panels} detail panels, ${filters} filter states, ${charts} charts`);
    const pre = document.createElement("pre");
    pre.id = "layout-findings";
    const unique = Array.from(new Set(problems));
    pre.textContent = info.map((l) => "info: " + l).concat(unique.map((l) => "problem: " + l)).join("\n") + "\nend\n";
    document.body.appendChild(pre);
  }

  function start() {
    const go = () => {
      try {
        run();
      } catch (e) {
        const pre = document.createElement("pre");
        pre.id = "layout-findings";
        pre.textContent = "problem: checker: the checking script failed: " + e + "\nend\n";
        document.body.appendChild(pre);
      }
    };
    if (document.fonts && document.fonts.ready) document.fonts.ready.then(go, go);
    else go();
  }

  if (document.readyState === "complete") start();
  else window.addEventListener("load", start);
})();
