import { expect } from 'chai';
import { TokenAccess } from '../../../src/kube/token-access.ts';
import { FakeClock } from '../../support/fake-clock.ts';
import { FakeKubeApi, apiError, type RecordedRequest } from '../../support/fake-kube-api.ts';

/** An API server that knows two tokens: "reader" (allowed get /metrics) and "tenant" (not). */
function cluster(): FakeKubeApi {
  return new FakeKubeApi((req: RecordedRequest) => {
    const body = req.body as { spec: Record<string, unknown> };
    if (req.path === '/apis/authentication.k8s.io/v1/tokenreviews') {
      const token = body.spec.token;
      if (token === 'reader' || token === 'tenant')
        return {
          status: {
            authenticated: true,
            user: { username: `system:serviceaccount:x:${token}`, uid: 'u', groups: ['g'] },
          },
        };
      return { status: { authenticated: false, error: 'invalid bearer token' } };
    }
    if (req.path === '/apis/authorization.k8s.io/v1/subjectaccessreviews') {
      const allowed = body.spec.user === 'system:serviceaccount:x:reader';
      return { status: { allowed } };
    }
    throw new Error(`unexpected ${req.verb} ${req.path}`);
  });
}

describe('kube/token-access: who may read the metrics', () => {
  it('asks the API server who holds the token and whether that user may get /metrics', async () => {
    const api = cluster();
    const access = new TokenAccess(api, { path: '/metrics', verb: 'get' });
    expect(await access.check('Bearer reader')).to.equal('allowed');
    expect(await access.check('Bearer tenant')).to.equal('forbidden');
    expect(await access.check('Bearer forged')).to.equal('unauthenticated');
    expect(await access.check(undefined)).to.equal('unauthenticated');
    expect(await access.check('Basic cmVhZGVyOg==')).to.equal('unauthenticated');
    expect(await access.check(`Bearer ${'t'.repeat(9000)}`)).to.equal('unauthenticated');
    // The review carries the user as the TokenReview named it, and the non-resource request.
    const sar = api.requests.find((r) => r.path.endsWith('subjectaccessreviews'));
    expect(sar?.body).to.deep.nested.include({
      'spec.user': 'system:serviceaccount:x:reader',
      'spec.groups': ['g'],
      'spec.nonResourceAttributes': { path: '/metrics', verb: 'get' },
    });
  });

  it('caches each answer for its TTL, then asks again', async () => {
    const api = cluster();
    const clock = new FakeClock();
    const access = new TokenAccess(api, { path: '/metrics', verb: 'get', clock, ttlMs: 60_000 });
    for (let i = 0; i < 5; i++) expect(await access.check('Bearer reader')).to.equal('allowed');
    expect(api.requests).to.have.length(2);
    clock.t += 60_001;
    expect(await access.check('Bearer reader')).to.equal('allowed');
    expect(api.requests).to.have.length(4);
  });

  it('a flood of distinct tokens costs a bounded number of reviews at once; a failure is never cached', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const api = new FakeKubeApi(async () => {
      await gate;
      return { status: { authenticated: false } };
    });
    const access = new TokenAccess(api, { path: '/metrics', verb: 'get', maxInFlight: 4 });
    const pending = Array.from({ length: 50 }, (_, i) => access.check(`Bearer t${i}`));
    const same = access.check('Bearer t0'); // joins the review already running
    release();
    const answers = await Promise.all([...pending, same]);
    expect(answers.filter((a) => a === 'unauthenticated')).to.have.length(5);
    expect(answers.filter((a) => a === 'unavailable')).to.have.length(46);
    expect(api.requests).to.have.length(4);

    const down = new FakeKubeApi(() => apiError(503, 'ServiceUnavailable'));
    const later = new TokenAccess(down, { path: '/metrics', verb: 'get' });
    expect(await later.check('Bearer reader')).to.equal('unavailable');
    expect(await later.check('Bearer reader')).to.equal('unavailable');
    expect(down.requests).to.have.length(2);
  });
});
