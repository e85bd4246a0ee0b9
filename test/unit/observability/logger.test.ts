import { expect } from 'chai';
import { PassThrough } from 'node:stream';
import { createLogger } from '../../../src/observability/logger.ts';
import type { LogFormat } from '../../../src/observability/logger.ts';

const NOW = new Date('2025-03-04T05:06:07.089Z');

/** A logger writing into memory; lines() waits for winston's async pipe to flush. */
function capture(format: LogFormat, level = 'debug') {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  const log = createLogger({ level, format, stream, now: () => NOW });
  return {
    log,
    lines: async (): Promise<string[]> => {
      await new Promise((resolve) => setImmediate(resolve));
      return text.split('\n').filter((l) => l !== '');
    },
  };
}

describe('observability/logger', () => {
  it('json: one object per line, ts then level then msg then the fields', async () => {
    const { log, lines } = capture('json');
    log.info('pod violates policy', { pod: 'x', namespace: 'ns', policy: 'p', rule: 'r' });
    const [line] = await lines();
    expect(Object.keys(JSON.parse(line as string))).to.deep.equal([
      'ts',
      'level',
      'msg',
      'pod',
      'namespace',
      'policy',
      'rule',
    ]);
    expect(JSON.parse(line as string)).to.deep.include({
      ts: '2025-03-04T05:06:07.089Z',
      level: 'info',
      msg: 'pod violates policy',
      pod: 'x',
    });
  });

  it('json: escapes terminal controls JSON.stringify leaves raw, and stays valid JSON', async () => {
    const { log, lines } = capture('json');
    log.warn('m', { pod: 'a\u009b31mb\u2028c\u007f' });
    const [line] = (await lines()) as [string];
    expect(line).to.not.match(/[\u007f-\u009f\u2028]/);
    expect(JSON.parse(line).pod).to.equal('a\u009b31mb\u2028c\u007f');
  });

  it('text: ts LEVEL msg key=value, quoting and escaping what could forge a line', async () => {
    const { log, lines } = capture('text');
    log.info('pod\nFAKE INFO forged', {
      pod: 'evil\u001b[31m\nname',
      policy: 'p1',
      note: 'has "quote" and \\',
      empty: '',
      n: 3,
    });
    const all = await lines();
    expect(all).to.have.length(1);
    expect(all[0]).to.equal(
      '2025-03-04T05:06:07.089Z INFO  pod\\nFAKE INFO forged pod="evil\\u001b[31m\\nname" ' +
        'policy=p1 note="has \\"quote\\" and \\\\" empty="" n=3',
    );
    expect(all[0]).to.not.match(/\p{Cc}/u);
  });

  it('text: escapes bidi overrides and hostile keys', async () => {
    const { log, lines } = capture('text');
    log.info('m', { 'k\ney': 'a\u202eb' });
    const [line] = (await lines()) as [string];
    expect(line).to.equal('2025-03-04T05:06:07.089Z INFO  m "k\\ney"="a\\u202eb"');
  });

  for (const format of ['json', 'text'] as const) {
    it(`${format}: redacts credential fields, nested too, and tokens inside text`, async () => {
      const { log, lines } = capture(format);
      log.info('calling api with Authorization: Bearer abc.def-123', {
        token: 's3cret1',
        password: 's3cret2',
        headers: { Authorization: 's3cret3' },
        kubeconfig: { users: [{ 'client-key-data': 's3cret4', clientCertificate: 's3cret5' }] },
        jwt: 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl',
        pem: '-----BEGIN RSA PRIVATE KEY-----\nMIIEs3cret6\n-----END RSA PRIVATE KEY-----',
        key: 'default/web-1',
      });
      const [line] = (await lines()) as [string];
      expect(line).to.not.match(/s3cret|abc\.def|eyJzdWIi/);
      expect(line).to.include('[redacted]');
      expect(line).to.include('default/web-1'); // a workqueue key is not a secret
    });

    it(`${format}: never throws on circular, huge, odd or throwing meta`, async () => {
      const { log, lines } = capture(format);
      const circular: Record<string, unknown> = { a: 1 };
      circular.self = circular;
      const hostile = {
        get boom(): never {
          throw new Error('getter');
        },
      };
      const shared = { x: 1 };
      log.error('odd', {
        circular,
        huge: 'x'.repeat(100_000),
        big: 10n,
        list: Array.from({ length: 500 }, (_, i) => i),
        deep: { a: { b: { c: { d: { e: { f: { g: { h: 1 } } } } } } } },
        hostile,
        twice: [shared, shared],
        err: Object.assign(new Error('failed'), { code: 'ECONNRESET' }),
      });
      const [line] = (await lines()) as [string];
      expect(line.length).to.be.lessThan(8000);
      expect(line).to.include('[circular]');
      expect(line).to.include('ECONNRESET');
      if (format === 'json') {
        const parsed = JSON.parse(line);
        expect(parsed.twice).to.deep.equal([{ x: 1 }, { x: 1 }]); // shared is not circular
        expect(parsed.big).to.equal('10');
        expect(parsed.hostile).to.equal('[unprintable]');
      }
    });
  }

  it('filters by level', async () => {
    const { log, lines } = capture('json', 'warn');
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    expect((await lines()).map((l) => JSON.parse(l).level)).to.deep.equal(['warn', 'error']);
  });

  it('rejects an unknown level at creation', () => {
    expect(() => createLogger({ level: 'verbose', format: 'json' })).to.throw(/verbose/);
  });

  it('keeps a child logger’s fields, and does not let meta shadow ts or msg', async () => {
    const { log, lines } = capture('json');
    log.child({ reconcileID: 'r1' }).info('done', { ts: 'fake', msg: 'fake' });
    const parsed = JSON.parse(((await lines()) as [string])[0]);
    expect(parsed).to.deep.include({ ts: NOW.toISOString(), msg: 'done', reconcileID: 'r1' });
    expect(parsed).to.deep.include({ ts_: 'fake', msg_: 'fake' });
  });
});
