// Paginated LIST as client-go's pager does it: limit + continue, all pages from one snapshot
// (the first page's resourceVersion); if a continue token expires (410) mid-way, one full list
// without pagination. Items are transformed page by page so the raw pages can be dropped early,
// and nothing is applied until the whole list is in, so a failed list leaves the cache untouched.
import type { KubeApi, Query } from './api.ts';
import { isGone } from './errors.ts';
import type { Log } from '../base/log.ts';
import { asObject } from '../base/json.ts';

export interface ListedItem<T> {
  key: string;
  /** undefined when the transform dropped it. */
  object: T | undefined;
}

export interface ListAllOptions<T> {
  api: KubeApi;
  path: string;
  query: Query | undefined;
  pageSize: number;
  signal: AbortSignal;
  /** Keys and transforms one raw item; undefined skips it entirely. */
  accept: (raw: unknown) => ListedItem<T> | undefined;
  log: Log;
  resource: string;
}

export async function listAll<T>(
  o: ListAllOptions<T>,
): Promise<{ items: ListedItem<T>[]; resourceVersion: string }> {
  try {
    return await pages(o, o.pageSize);
  } catch (e) {
    if (!(e instanceof ContinueExpired)) throw e;
    o.log.info(`${o.resource}: continue token expired mid-list; listing in one page`);
    return pages(o, 0);
  }
}

class ContinueExpired extends Error {}

async function pages<T>(
  o: ListAllOptions<T>,
  limit: number,
): Promise<{ items: ListedItem<T>[]; resourceVersion: string }> {
  const items: ListedItem<T>[] = [];
  let token: string | undefined;
  let resourceVersion = '';
  do {
    const query: Query = { ...o.query };
    if (limit > 0) query.limit = limit;
    if (token) query.continue = token;
    let page: unknown;
    try {
      page = await o.api.request('GET', o.path, { query, signal: o.signal, timeoutMs: 60_000 });
    } catch (e) {
      if (token && isGone(e)) throw new ContinueExpired();
      throw e;
    }
    const list = asObject(page);
    const meta = asObject(list?.metadata);
    if (!resourceVersion && typeof meta?.resourceVersion === 'string') {
      resourceVersion = meta.resourceVersion;
    }
    // List items carry no kind/apiVersion; restore them so transforms see what a watch shows.
    const kind = typeof list?.kind === 'string' ? list.kind.replace(/List$/, '') : undefined;
    const rawItems = Array.isArray(list?.items) ? list.items : [];
    for (const raw of rawItems) {
      const obj = asObject(raw);
      if (obj && kind && obj.kind === undefined) {
        obj.kind = kind;
        if (obj.apiVersion === undefined && typeof list?.apiVersion === 'string') {
          obj.apiVersion = list.apiVersion;
        }
      }
      const item = o.accept(raw);
      if (item) items.push(item);
    }
    token = typeof meta?.continue === 'string' && meta.continue !== '' ? meta.continue : undefined;
  } while (token);
  return { items, resourceVersion };
}
