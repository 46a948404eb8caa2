// The memory budget for response bytes written to streams but not yet flushed to their clients.
// A client that stops reading keeps every response written to it in memory (grpc-js and the
// HTTP/2 session copy each message); the budget bounds that per stream and for the server. Over
// its own share a stream ends. Over the server's total, the streams that have flushed nothing for
// NOT_READING_MS end, as many as needed; when those are not enough, the writer waits for flushes:
// in a push of large responses to many streams, the ones written first are still being read, not
// stalled, and ending them would only make their clients reconnect and ask for everything again.

/** PendingHolder is a stream as the budget sees it. */
export interface PendingHolder {
  /** Unflushed bytes the holder has written. */
  readonly pendingBytes: number;
  /** When the holder's oldest unflushed write was made (Infinity with none). */
  readonly oldestPendingAt: number;
}

/** Why a stream is over the budget: its own share, or the server's total. */
export type BudgetLimit = 'stream' | 'total';

/** A holder whose oldest unflushed write is this old is taken as not reading when the total is exceeded. */
export const NOT_READING_MS = 5000;

/** BudgetVerdict says which holders to end so that a write may go out, and whether it must wait instead. */
export interface BudgetVerdict {
  readonly end: ReadonlyArray<{ readonly holder: PendingHolder; readonly limit: BudgetLimit }>;
  /** The write must wait for flushes (waitFor); nothing is to be written now. */
  readonly wait: boolean;
}

const WRITE: BudgetVerdict = Object.freeze({ end: [], wait: false });

/** PendingBudget counts the unflushed bytes of one server's streams. */
export class PendingBudget {
  private readonly holders = new Set<PendingHolder>();
  private total = 0;
  // Writers waiting for flushes, in the order they began to wait, and how each resumes.
  private readonly waiting = new Map<PendingHolder, () => void>();
  private resumeScheduled = false;
  // Re-examines every waiter once the holders it waits on may count as not reading.
  private recheckTimer?: NodeJS.Timeout;

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
   * overBudget says what it takes for `holder` to write `bytes` more at `now`: ending `holder`
   * itself when that takes it over its own share (a stream with nothing unflushed may always write
   * one response); while the total would be exceeded, ending the holders that have flushed nothing
   * for NOT_READING_MS, oldest first; and when that is not enough, waiting. With nothing unflushed
   * anywhere to wait for, a write larger than the total is let through.
   */
  overBudget(holder: PendingHolder, bytes: number, now: number): BudgetVerdict {
    if (holder.pendingBytes > 0 && holder.pendingBytes + bytes > this.maxPerStream)
      return { end: [{ holder, limit: 'stream' }], wait: false };
    let total = this.total;
    if (total + bytes <= this.maxTotal) return WRITE;
    const stalled: PendingHolder[] = [];
    for (const h of this.holders) if (h.pendingBytes > 0 && now - h.oldestPendingAt >= NOT_READING_MS) stalled.push(h);
    stalled.sort((a, b) => a.oldestPendingAt - b.oldestPendingAt);
    const end: Array<{ holder: PendingHolder; limit: BudgetLimit }> = [];
    for (const h of stalled) {
      if (total + bytes <= this.maxTotal) break;
      end.push({ holder: h, limit: 'total' });
      total -= h.pendingBytes;
      if (h === holder) return { end, wait: false };
    }
    return { end, wait: total + bytes > this.maxTotal && total > 0 };
  }

  /** waitFor has `resume` called once flushes may let `holder` write (it then asks overBudget again). */
  waitFor(holder: PendingHolder, resume: () => void): void {
    this.waiting.delete(holder);
    this.waiting.set(holder, resume);
    if (!this.recheckTimer) {
      this.recheckTimer = setTimeout(() => {
        this.recheckTimer = undefined;
        this.resume(true);
      }, NOT_READING_MS);
      this.recheckTimer.unref?.();
    }
  }

  /** unwait forgets a waiting holder (it closed). */
  unwait(holder: PendingHolder): void {
    this.waiting.delete(holder);
    this.stopRecheckIfIdle();
  }

  /**
   * resume lets waiters try again, first come first: while the total has room, or (`all`) every one
   * of them, so that holders that have since stopped reading can be ended.
   */
  private resume(all: boolean): void {
    for (const [h, resume] of [...this.waiting]) {
      if (!all && this.total >= this.maxTotal) break;
      this.waiting.delete(h);
      resume();
    }
    this.stopRecheckIfIdle();
  }

  private stopRecheckIfIdle(): void {
    if (this.waiting.size > 0) return;
    clearTimeout(this.recheckTimer);
    this.recheckTimer = undefined;
  }

  /** Flushes resume waiters on a later tick, once per turn, outside the flushing stream's callback. */
  private scheduleResume(): void {
    if (this.waiting.size === 0 || this.resumeScheduled) return;
    this.resumeScheduled = true;
    setImmediate(() => {
      this.resumeScheduled = false;
      this.resume(false);
    });
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
    this.scheduleResume();
  }

  /** forget drops what a closed holder had unflushed: ending its call dropped those bytes. */
  forget(holder: PendingHolder, bytes: number): void {
    this.unwait(holder);
    if (!this.holders.delete(holder)) return;
    this.total -= bytes;
    this.onChange(this.total);
    this.scheduleResume();
  }
}
