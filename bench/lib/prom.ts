// Reads a Prometheus text exposition (the bridge's /metrics) into name → value.

/** parseProm returns each unlabelled sample, and labelled ones as `name{labels}`. */
export function parseProm(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    if (space < 0) continue;
    const value = Number(line.slice(space + 1));
    if (Number.isFinite(value)) out.set(line.slice(0, space), value);
  }
  return out;
}

/** scrape fetches and parses a /metrics URL; it resolves to an empty map when unreachable. */
export async function scrape(url: string, timeoutMs = 5000): Promise<Map<string, number>> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return parseProm(await res.text());
  } catch {
    return new Map();
  }
}
