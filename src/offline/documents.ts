// Reading the CLI's inputs: multi-document YAML or JSON files, or stdin for `-`, with every document
// remembered by file and index so errors can point at it.
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';

export interface SourceDocument {
  file: string;
  /** 0-based position of the document in its file (after expanding `kind: List`, the list's position). */
  index: number;
  value: unknown;
}

export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

/** Where a document came from, as every message names it. */
export function where(doc: Pick<SourceDocument, 'file' | 'index'>, field?: string): string {
  return `${doc.file === '-' ? '<stdin>' : doc.file}: document ${doc.index}${field ? `: ${field}` : ''}`;
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
  // Attacker-supplied manifests must not expand into gigabytes through YAML aliases.
  const docs = parseAllDocuments(text, { prettyErrors: true });
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
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      throw new InputError(`${where(here)}: invalid YAML: ${(err as Error).message}`);
    }
    index++;
    if (value === null || value === undefined) continue; // an empty document between `---` lines
    const list = asList(value);
    if (list) list.forEach((item) => out.push({ ...here, value: item }));
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
