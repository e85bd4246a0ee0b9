// Reading the CLI's inputs: multi-document YAML or JSON files, directories of them, or stdin for
// `-`, with every document remembered by file, index (and List item) so errors can point at it.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';

export interface SourceDocument {
  file: string;
  /** 0-based position of the document in its file. */
  index: number;
  /** 0-based position inside a `kind: List` document, when it came from one. */
  item?: number;
  value: unknown;
}

export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** Where a document came from, as every message names it. */
export function where(
  doc: Pick<SourceDocument, 'file' | 'index' | 'item'>,
  field?: string,
): string {
  const item = doc.item === undefined ? '' : `, item ${doc.item}`;
  return `${doc.file === '-' ? '<stdin>' : doc.file}: document ${doc.index}${item}${field ? `: ${field}` : ''}`;
}

const MANIFEST = /\.(ya?ml|json)$/i;

/** A directory stands for its YAML and JSON files, in name order (as `kubectl apply -f DIR`). */
export async function expandPaths(paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    if (p === '-') {
      out.push(p);
      continue;
    }
    let isDir: boolean;
    try {
      isDir = (await stat(p)).isDirectory();
    } catch (err) {
      throw new InputError(
        `${p}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      );
    }
    if (!isDir) {
      out.push(p);
      continue;
    }
    const names = (await readdir(p, { withFileTypes: true }))
      .filter((e) => e.isFile() && MANIFEST.test(e.name))
      .map((e) => e.name)
      .sort();
    out.push(...names.map((n) => join(p, n)));
  }
  return out;
}

async function readInput(file: string, stdin: () => Promise<string>): Promise<string> {
  if (file === '-') return stdin();
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new InputError(
      `${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

export async function loadDocuments(
  file: string,
  stdin: () => Promise<string>,
): Promise<SourceDocument[]> {
  const text = await readInput(file, stdin);
  // YAML 1.1 with merge keys, as kubectl reads manifests: `privileged: yes` is true and `<<:`
  // merges, so the CLI judges the object the API server would get, not a string it would refuse.
  const docs = parseAllDocuments(text, { prettyErrors: true, version: '1.1', merge: true });
  const out: SourceDocument[] = [];
  let index = 0;
  for (const doc of Array.isArray(docs) ? docs : [docs]) {
    const here = { file, index };
    if (doc.errors.length > 0) {
      const e = doc.errors[0];
      throw new InputError(
        `${where(here)}: invalid YAML: ${e?.message.split('\n')[0] ?? 'parse error'}`,
      );
    }
    let value: unknown;
    try {
      // Attacker-supplied manifests must not expand into gigabytes through YAML aliases.
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      throw new InputError(`${where(here)}: invalid YAML: ${(err as Error).message}`);
    }
    index++;
    if (value === null || value === undefined) continue; // an empty document between `---` lines
    const list = asList(value);
    if (list) list.forEach((value, item) => out.push({ ...here, item, value }));
    else out.push({ ...here, value });
  }
  return out;
}

/** `kubectl get -o yaml` wraps objects in `kind: List`; judge the items. */
function asList(v: unknown): unknown[] | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const o = v as Record<string, unknown>;
  return typeof o.kind === 'string' && o.kind.endsWith('List') && Array.isArray(o.items)
    ? o.items
    : undefined;
}

export function readStdin(): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}
