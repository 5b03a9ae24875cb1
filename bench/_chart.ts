// The chart of a bench:ipc run: grouped bars per scenario (us, Python, Deno
// Worker, the C limit), each bar's height its speed relative to Python's
// mp.Queue in the same run on a log scale, its label the measured value.

/** One bar: a system's measured speed in one scenario. */
export interface Bar {
  /** The system's legend label. */
  system: string;
  /** Higher is better (messages/s, MB/s, round trips/s). */
  value: number;
  /** The value as the tables show it ("461k", "749 MB/s", "36.9 µs"). */
  text: string;
}

/** One group of bars. */
export interface Group {
  /** "T1 small", "L1 pinned", … */
  title: string;
  bars: Bar[];
  /** Python's value in this scenario (the 1× line). */
  reference: number;
}

const COLORS = ["#2f6fdf", "#f2a900", "#7a7a7a", "#1a1a1a", "#3aa655"];
const W_BAR = 22, GAP = 26, LEFT = 64, TOP = 48, HEIGHT = 300, BOTTOM = 70;

/** Escapes text for SVG. */
function esc(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(
    />/g,
    "&gt;",
  );
}

/**
 * Renders `groups` as an SVG document. `systems` gives the legend order (and
 * the colors); `caption` goes under the title.
 */
export function renderChart(
  groups: Group[],
  systems: string[],
  title: string,
  caption: string,
): string {
  const ratios = groups.flatMap((g) =>
    g.bars.map((b) => b.value / g.reference)
  );
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(0.5, ...ratios))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(2, ...ratios))));
  const y = (ratio: number) =>
    TOP + HEIGHT -
    (Math.log10(ratio / lo) / Math.log10(hi / lo)) * HEIGHT;
  const groupWidth = (g: Group) => g.bars.length * W_BAR;
  const width = LEFT + groups.reduce((w, g) => w + groupWidth(g) + GAP, 0) +
    20;
  const height = TOP + HEIGHT + BOTTOM + 22 * Math.ceil(systems.length / 2);
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${LEFT}" y="18" font-size="15" font-weight="bold">${
      esc(title)
    }</text>`,
    `<text x="${LEFT}" y="34" fill="#555">${esc(caption)}</text>`,
  ];
  for (let p = lo; p <= hi * 1.001; p *= 10) {
    const yy = y(p).toFixed(1);
    out.push(
      `<line x1="${LEFT}" x2="${width - 10}" y1="${yy}" y2="${yy}" stroke="${
        p === 1 ? "#f2a900" : "#ddd"
      }" stroke-width="${p === 1 ? 1.5 : 1}"/>`,
      `<text x="${LEFT - 6}" y="${yy}" text-anchor="end" dy="4">${
        p >= 1 ? p.toFixed(0) : p.toString()
      }×</text>`,
    );
  }
  out.push(
    `<text transform="translate(14 ${
      TOP + HEIGHT / 2
    }) rotate(-90)" text-anchor="middle" fill="#555">speed relative to Python mp.Queue (log)</text>`,
  );
  let x = LEFT + GAP / 2;
  for (const g of groups) {
    for (const b of g.bars) {
      const color = COLORS[systems.indexOf(b.system) % COLORS.length];
      const top = y(b.value / g.reference);
      const base = TOP + HEIGHT;
      out.push(
        `<rect x="${x}" y="${top.toFixed(1)}" width="${W_BAR - 3}" height="${
          Math.max(1, base - top).toFixed(1)
        }" fill="${color}"><title>${esc(b.system)}: ${
          esc(b.text)
        }</title></rect>`,
        `<text x="${x + (W_BAR - 3) / 2}" y="${
          (top - 4).toFixed(1)
        }" text-anchor="middle" font-size="8" transform="rotate(-60 ${
          x + (W_BAR - 3) / 2
        } ${(top - 4).toFixed(1)})">${esc(b.text)}</text>`,
      );
      x += W_BAR;
    }
    // The scenario's id on the first line, what it is on the second.
    const [id, ...what] = g.title.split(" ");
    const cx = x - groupWidth(g) / 2 - 1.5;
    out.push(
      `<text x="${cx}" y="${
        TOP + HEIGHT + 15
      }" text-anchor="middle" font-weight="bold">${esc(id)}</text>`,
      `<text x="${cx}" y="${TOP + HEIGHT + 28}" text-anchor="middle">${
        esc(what.join(" "))
      }</text>`,
    );
    x += GAP;
  }
  systems.forEach((s, i) => {
    const lx = LEFT + (i % 2) * 340;
    const ly = TOP + HEIGHT + 44 + 20 * Math.floor(i / 2);
    out.push(
      `<rect x="${lx}" y="${ly}" width="12" height="12" fill="${
        COLORS[i % COLORS.length]
      }"/>`,
      `<text x="${lx + 18}" y="${ly + 10}">${esc(s)}</text>`,
    );
  });
  out.push("</svg>");
  return out.join("\n") + "\n";
}
