// Driver-side handle of the raw fan-out server (servers/raw-main.ts).
import { fork, type ChildProcess } from 'node:child_process';
import { imageMallocEnv } from '../lib/image-env.js';
import { fileURLToPath } from 'node:url';
import { sleep } from '../lib/clock.js';
import { cpuSeconds, rssBytes, stopChild, track } from '../lib/proc.js';

const MAIN = fileURLToPath(new URL('./raw-main.ts', import.meta.url));

type Reply = { op: string } & Record<string, number>;

/** RawServer is the running raw limit server. */
export class RawServer {
  private waiters = new Map<string, Array<(m: Reply) => void>>();

  private constructor(
    readonly child: ChildProcess,
    readonly address: string,
    readonly messageBytes: { sotw: number; delta: number },
  ) {
    child.on('message', (m: Reply) => this.waiters.get(m.op)?.shift()?.(m));
  }

  /** start forks the server; `messageBytes` is the size of the response it fans out. */
  static async start(messageBytes = 300): Promise<RawServer> {
    // The same malloc settings as the bridge, so their memory per stream compares.
    const child = track(
      fork(MAIN, [String(messageBytes)], {
        execArgv: ['--import', 'tsx', '--expose-gc'],
        env: { ...process.env, ...imageMallocEnv() },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      }),
    );
    const ready = await new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('raw server did not start')), 30_000);
      child.on('message', (m: Reply) => {
        if (m.op !== 'ready') return;
        clearTimeout(timer);
        resolve(m);
      });
    });
    return new RawServer(child, `127.0.0.1:${ready.port}`, { sotw: ready.sotwBytes!, delta: ready.deltaBytes! });
  }

  private ask(op: string, extra: Record<string, unknown> = {}): Promise<Reply> {
    const reply = new Promise<Reply>((resolve) => {
      const q = this.waiters.get(op) ?? [];
      q.push(resolve);
      this.waiters.set(op, q);
    });
    this.child.send({ op, ...extra });
    return Promise.race([reply, sleep(30_000).then(() => Promise.reject(new Error(`raw server: no '${op}' answer`)))]);
  }

  async streams(): Promise<number> {
    return (await this.ask('count')).streams!;
  }

  /** fanout writes the message to every `every`-th stream (1: all); t0 is taken just before the first write. */
  async fanout(every = 1): Promise<{ t0: number; writeMs: number; streams: number }> {
    const r = await this.ask('fanout', { every });
    return { t0: r.t0!, writeMs: r.writeMs!, streams: r.streams! };
  }

  async memory(gc: boolean): Promise<{ rss: number; heapUsed: number }> {
    const r = await this.ask('memory', { gc });
    return { rss: r.rss!, heapUsed: r.heapUsed! };
  }

  cpuSeconds(): number {
    return cpuSeconds(this.child.pid!);
  }

  rss(): number {
    return rssBytes(this.child.pid!);
  }

  async stop(): Promise<void> {
    try {
      this.child.send({ op: 'stop' });
    } catch {
      // gone
    }
    await Promise.race([new Promise((r) => this.child.once('exit', r)), sleep(5000)]);
    await stopChild(this.child, 2000);
  }
}
