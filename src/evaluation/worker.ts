// An evaluation worker: holds the policies in effect, compiled once per update, and judges the
// pods it is sent with the pure engine. Nothing here does I/O; a pod that makes a rule throw is
// reported as a rule error by evaluate(), and anything else as a failed evaluation.
import { parentPort } from 'node:worker_threads';
import { compilePolicy, type CompiledPolicy } from '../engine/compiled-policy.ts';
import { evaluate } from '../engine/evaluate.ts';
import type { FromWorker, ToWorker } from './protocol.ts';

const lists = new Map<number, CompiledPolicy[]>();

function reply(m: FromWorker): void {
  parentPort?.postMessage(m);
}

parentPort?.on('message', (m: ToWorker) => {
  if (m.type === 'policies') {
    // Compiled in the operator already: compiling here cannot fail, but never trust that.
    lists.set(
      m.list,
      m.policies.flatMap((p) => {
        const r = compilePolicy(p);
        return r.ok ? [r.compiled] : [];
      }),
    );
    return;
  }
  if (m.type === 'forget') {
    lists.delete(m.list);
    return;
  }
  try {
    const policies = lists.get(m.list);
    if (!policies) throw new Error(`no policies list ${m.list}`);
    // Structured clone keeps ctx.now a Date.
    reply({ type: 'result', id: m.id, evaluation: evaluate(m.pod, policies, m.ctx) });
  } catch (err) {
    reply({ type: 'failed', id: m.id, message: err instanceof Error ? err.message : String(err) });
  }
});
