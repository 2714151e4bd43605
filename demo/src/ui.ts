/// <reference lib="dom" />
// Small DOM helpers for the demo page.

export function $(selector: string): HTMLElement {
  const e = document.querySelector<HTMLElement>(selector);
  if (!e) throw new Error(`demo: no element ${selector}`);
  return e;
}

/** Creates an element with attributes and children (strings become text nodes). */
export function el(
  tag: string,
  attrs: Record<string, string> = {},
  children: readonly (Node | string)[] = [],
): HTMLElement {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

/**
 * A colour per Raft term, from a palette that never reuses a role's colour (leader green, follower blue,
 * candidate yellow, down grey) nor the error red: violet, pink, teal, orange, indigo, fuchsia, brown, cyan.
 */
export const TERM_PALETTE = [
  '#7c3aed',
  '#db2777',
  '#0d9488',
  '#ea580c',
  '#4f46e5',
  '#c026d3',
  '#92400e',
  '#0e7490',
];

export function termColor(term: number): string {
  return TERM_PALETTE[term % TERM_PALETTE.length];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function b64(text: string): string {
  let s = '';
  for (const byte of encoder.encode(text)) s += String.fromCharCode(byte);
  return btoa(s);
}

export function unb64(data: string | undefined): string {
  if (!data) return '';
  const bin = atob(data);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return decoder.decode(bytes);
}

/** etcd's prefix range end: the key with its last byte incremented (trailing 0xff bytes dropped). */
export function prefixEnd(text: string): string {
  const bytes = [...encoder.encode(text)];
  while (bytes.length > 0) {
    const last = bytes.length - 1;
    if (bytes[last] < 0xff) {
      bytes[last]++;
      let s = '';
      for (const b of bytes.slice(0, last + 1)) s += String.fromCharCode(b);
      return btoa(s);
    }
    bytes.pop();
  }
  return btoa('\0');
}
