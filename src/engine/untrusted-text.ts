// Attacker text in messages (Events, annotations, CLI output): bounded, and with every character that
// could forge or hide text in a terminal or UI written as `\uXXXX`. One rule for every rule family.

/** Control, bidi and zero-width characters. */
function unsafe(code: number): boolean {
  return (
    code < 0x20 ||
    (code >= 0x7f && code <= 0x9f) ||
    (code >= 0x200b && code <= 0x200f) ||
    (code >= 0x2028 && code <= 0x202e) ||
    (code >= 0x2066 && code <= 0x2069)
  );
}

/** At most `max` characters of `text` (then `…`), unsafe characters escaped; not quoted. */
export function shownText(text: string, max: number): string {
  const clipped = text.length > max ? text.slice(0, max) : text;
  let out = '';
  for (const ch of clipped) {
    const code = ch.codePointAt(0) ?? 0;
    out += unsafe(code) ? `\\u${code.toString(16).padStart(4, '0')}` : ch;
  }
  return clipped.length < text.length ? `${out}…` : out;
}
