// The baseline of bench-operator: the least any client can do to see pods, in its own process so
// that its CPU is read from /proc the way the operator's is. A raw HTTPS stream of every pod in
// the cluster and JSON.parse of each line, nothing else. For pods of the benchmark's namespaces
// it notes (on the shared wall clock) when it first saw each pod, when it first saw the
// operator's record on it, and how many different records it saw (more than one is a duplicate
// write). On the PATCH prober's pod it notes when it first saw each of the prober's writes: a
// write's round trip plus the watch's delivery of it, the least any record takes to be seen. The
// parent asks for the event count at window edges and for the notes at the end, over
// the IPC channel: nothing is sent per event.
import https from 'node:https';
import { loadKubeConfig } from '../../test/integration/cluster.ts';

const prefix = process.argv[2] ?? 'dg-bench-rate-';
/** namespace/name of the PATCH prober's pod, and the annotation its writes count in. */
const [probeNamespace, probeName] = (process.argv[3] ?? '').split('/');
const PROBE_COUNT = 'bench.example/n';
const RECORD = 'deployguard.dev/violations';
const DETECTED = 'deployguard.dev/detected-at';

interface Seen {
  /** First event of the pod. */
  tb: number;
  /** First event carrying the operator's record. */
  ta?: number;
  /** The records seen, as `violations|detected-at`. */
  records?: string[];
}
const pods = new Map<string, Seen>();
/** The prober's write number -> when this watch first saw it. */
const probes = new Map<string, number>();
let events = 0;
const now = (): number => performance.timeOrigin + performance.now();

interface PodEvent {
  type: string;
  object: {
    metadata?: {
      namespace?: string;
      name?: string;
      resourceVersion?: string;
      annotations?: Record<string, string>;
    };
  };
}

function onEvent(e: PodEvent, t: number): void {
  const m = e.object.metadata;
  if (m?.namespace === probeNamespace && m?.name === probeName) {
    const n = m?.annotations?.[PROBE_COUNT];
    if (n !== undefined && !probes.has(n)) probes.set(n, t);
    return;
  }
  if (!m?.namespace?.startsWith(prefix) || e.type === 'DELETED') return;
  const key = `${m.namespace}/${m.name}`;
  let s = pods.get(key);
  if (!s) pods.set(key, (s = { tb: t }));
  const record = m.annotations?.[RECORD];
  if (record === undefined) return;
  s.ta ??= t;
  const both = `${record}|${m.annotations?.[DETECTED] ?? ''}`;
  if (!s.records?.includes(both)) (s.records ??= []).push(both);
}

const kc = loadKubeConfig();
const cluster = kc.getCurrentCluster();
if (!cluster) throw new Error('no current cluster');
const tls: https.RequestOptions = { headers: {} };
await kc.applyToHTTPSOptions(tls);
const agent = new https.Agent({ keepAlive: true, ca: tls.ca, cert: tls.cert, key: tls.key });

function get(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    https
      .get(`${cluster?.server}${path}`, { ...tls, agent }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

let rv = (
  JSON.parse(await get('/api/v1/pods?limit=1')) as { metadata: { resourceVersion: string } }
).metadata.resourceVersion;

/** Watches from `rv` until the server ends the stream; resumes from the last event seen. */
function watch(): void {
  const req = https.get(
    `${cluster?.server}/api/v1/pods?watch=true&allowWatchBookmarks=true&resourceVersion=${rv}`,
    { ...tls, agent },
    (res) => {
      let buf = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const t = now();
        buf += chunk;
        let nl: number;
        while ((nl = buf.indexOf('\n')) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          const e = JSON.parse(line) as PodEvent;
          events++;
          rv = e.object.metadata?.resourceVersion ?? rv;
          onEvent(e, t);
        }
      });
      res.on('end', () => setImmediate(watch));
    },
  );
  req.on('error', () => setTimeout(watch, 100));
}
watch();

process.on('message', (m: { ask: string }) => {
  if (m.ask === 'events') process.send?.({ events });
  if (m.ask === 'pods') process.send?.({ pods: Object.fromEntries(pods) });
  if (m.ask === 'probes') process.send?.({ probes: Object.fromEntries(probes) });
  if (m.ask === 'forget') {
    pods.clear();
    probes.clear();
  }
});
process.send?.({ ready: true });
