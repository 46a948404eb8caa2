// The memory budget for response bytes written to streams but not yet flushed to their clients.
// A client that stops reading keeps every response written to it in memory (grpc-js and the
// HTTP/2 session copy each message); the budget bounds that per stream and for the server, and
// names the streams to end when it is exceeded.

/** PendingHolder is a stream as the budget sees it. */
export interface PendingHolder {
  /** Unflushed bytes the holder has written. */
  readonly pendingBytes: number;
  /** When the holder's oldest unflushed write was made (Infinity with none). */
  readonly oldestPendingAt: number;
}

/** Why a stream is over the budget: its own share, or the server's total. */
export type BudgetLimit = 'stream' | 'total';

/** PendingBudget counts the unflushed bytes of one server's streams. */
export class PendingBudget {
  private readonly holders = new Set<PendingHolder>();
  private total = 0;

  constructor(
    readonly maxPerStream: number,
    readonly maxTotal: number,
    private readonly onChange: (total: number) => void = () => {},
  ) {}

  /** bytes is the total unflushed bytes of every holder. */
  get bytes(): number {
    return this.total;
  }

  /**
   * overBudget lists the holders to end so that `holder` may write `bytes` more: `holder` itself
   * when that takes it over its own share (a stream with nothing unflushed may always write one
   * response), else, while the total would be exceeded, the holders whose oldest unflushed write
   * is oldest (those not reading at all come first; a stream that reads flushes within moments).
   * When ending every other holder is not enough, the write is let through.
   */
  overBudget(
    holder: PendingHolder,
    bytes: number,
  ): Array<{ readonly holder: PendingHolder; readonly limit: BudgetLimit }> {
    if (holder.pendingBytes > 0 && holder.pendingBytes + bytes > this.maxPerStream)
      return [{ holder, limit: 'stream' }];
    const out: Array<{ holder: PendingHolder; limit: BudgetLimit }> = [];
    let total = this.total;
    if (total + bytes <= this.maxTotal) return out;
    const byAge = [...this.holders]
      .filter((h) => h.pendingBytes > 0)
      .sort((a, b) => a.oldestPendingAt - b.oldestPendingAt);
    for (const h of byAge) {
      if (total + bytes <= this.maxTotal) break;
      out.push({ holder: h, limit: 'total' });
      total -= h.pendingBytes;
      if (h === holder) break;
    }
    return out;
  }

  /** add counts `bytes` more written by `holder`. */
  add(holder: PendingHolder, bytes: number): void {
    this.holders.add(holder);
    this.total += bytes;
    this.onChange(this.total);
  }

  /** flushed counts `bytes` of `holder`'s as flushed. */
  flushed(holder: PendingHolder, bytes: number): void {
    this.total -= bytes;
    if (holder.pendingBytes === 0) this.holders.delete(holder);
    this.onChange(this.total);
  }

  /** forget drops what a closed holder had unflushed: ending its call dropped those bytes. */
  forget(holder: PendingHolder, bytes: number): void {
    if (!this.holders.delete(holder)) return;
    this.total -= bytes;
    this.onChange(this.total);
  }
}
