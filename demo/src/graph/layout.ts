// Where members sit in the graph: any number of them on an ellipse, starting at the top, in a wide box (a
// laptop) or a taller one (a phone, bigger circles). Three members make the live cluster's triangle.

import type { Point } from './svg.ts';

export interface Layout {
  readonly w: number;
  readonly h: number;
  readonly pos: ReadonlyMap<number, Point>;
}

export function ringLayout(ids: readonly number[], narrow: boolean): Layout {
  const many = ids.length > 4;
  const w = narrow ? 420 : 760;
  const h = narrow ? (many ? 400 : 300) : many ? 280 : 215;
  const margin = narrow ? 50 : 42;
  const cx = w / 2;
  const cy = h / 2 + (ids.length === 3 ? 12 : 0);
  const rx = w / 2 - (narrow ? 60 : 120);
  const ry = h / 2 - margin;
  const pos = new Map<number, Point>();
  ids.forEach((id, i) => {
    const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, ids.length);
    pos.set(id, { x: Math.round(cx + rx * Math.cos(a)), y: Math.round(cy + ry * Math.sin(a)) });
  });
  return { w, h, pos };
}
