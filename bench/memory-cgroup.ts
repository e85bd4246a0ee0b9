// BENCH_MEMORY_LIMIT=MiB: the operator runs in a memory cgroup of that limit, as a kubelet runs a
// container with `resources.limits.memory`. Node sizes its V8 heap from that limit at start
// (process.constrainedMemory()), so the operator is measured under the pressure it would meet in
// a cluster, not with a 24 GiB host's lazy heap; the cgroup's own peak and OOM kills are the
// proof that the limit holds. Needs root and a writable memory controller (cgroup v1 or v2).
import { access, mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const ROOT = '/sys/fs/cgroup';

export class MemoryCgroup {
  private readonly dir: string;
  private readonly v2: boolean;

  private constructor(dir: string, v2: boolean) {
    this.dir = dir;
    this.v2 = v2;
  }

  /** A fresh cgroup limited to `limitMiB`; throws with the reason when none can be made. */
  static async create(name: string, limitMiB: number): Promise<MemoryCgroup> {
    const bytes = String(limitMiB * 1024 * 1024);
    const v2 = (await readFile(join(ROOT, 'cgroup.controllers'), 'utf8').catch(() => '')).includes(
      'memory',
    );
    const dir = v2 ? join(ROOT, name) : join(ROOT, 'memory', name);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, v2 ? 'memory.max' : 'memory.limit_in_bytes'), bytes);
    // No swap beyond the limit (where the kernel offers the knob), as in a kubelet's cgroup.
    if (v2) await writeFile(join(dir, 'memory.swap.max'), '0').catch(() => undefined);
    else
      await access(join(dir, 'memory.memsw.limit_in_bytes'))
        .then(() => writeFile(join(dir, 'memory.memsw.limit_in_bytes'), bytes))
        .catch(() => undefined);
    return new MemoryCgroup(dir, v2);
  }

  /** The limit BENCH_MEMORY_LIMIT asks for, if any. */
  static readonly limitMiB: number | undefined = process.env.BENCH_MEMORY_LIMIT
    ? Number(process.env.BENCH_MEMORY_LIMIT)
    : undefined;

  /** A fresh cgroup of BENCH_MEMORY_LIMIT, or none when it is not set. */
  static async fromEnv(): Promise<MemoryCgroup | undefined> {
    const limit = MemoryCgroup.limitMiB;
    return limit === undefined
      ? undefined
      : MemoryCgroup.create(`deployguard-bench-${process.pid}`, limit);
  }

  /** A command prefix that moves the process into the cgroup, then runs the rest. */
  get prefix(): string[] {
    return ['sh', '-c', `echo $$ > ${join(this.dir, 'cgroup.procs')} && exec "$@"`, 'sh'];
  }

  /** The highest usage the cgroup saw, and how many times the kernel killed a process in it. */
  async usage(): Promise<{ peakMiB: number; oomKills: number }> {
    const peak = await readFile(
      join(this.dir, this.v2 ? 'memory.peak' : 'memory.max_usage_in_bytes'),
      'utf8',
    ).catch(() => 'NaN');
    const events = await readFile(
      join(this.dir, this.v2 ? 'memory.events' : 'memory.oom_control'),
      'utf8',
    );
    const kills = /^oom_kill (\d+)$/m.exec(events)?.[1];
    return {
      peakMiB: Math.round(Number(peak.trim()) / (1024 * 1024)),
      oomKills: Number(kills ?? 0),
    };
  }

  /** Removes the cgroup (once its processes have exited). */
  async remove(): Promise<void> {
    await rmdir(this.dir).catch(() => undefined);
  }
}
