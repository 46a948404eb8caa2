// Plain-text tables for stdout.

/** table renders rows under a header, columns padded to their widest cell (numbers right-aligned). */
export function table(
  title: string,
  header: readonly string[],
  rows: ReadonlyArray<ReadonlyArray<string | number>>,
): string {
  const cells = rows.map((r) => r.map((c) => String(c)));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const numeric = header.map(
    (_, i) => cells.length > 0 && cells.every((r) => /^[-+]?[\d.,]+(%|x|×)?$|^n\/a$|^-$/.test(r[i] ?? '')),
  );
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [`\n${title}`, line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.map(line)].join('\n');
}

/** ms formats milliseconds for a table (no decimals above 10). */
export function ms(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return 'n/a';
  return v >= 10 ? v.toFixed(0) : v.toFixed(1);
}

/** kb formats bytes as KB. */
export function kb(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return 'n/a';
  return (bytes / 1024).toFixed(1);
}

/** mb formats bytes as MB. */
export function mb(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return 'n/a';
  return (bytes / 2 ** 20).toFixed(0);
}
