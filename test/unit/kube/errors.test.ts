import { expect } from 'chai';
import { parseRetryAfter } from '../../../src/kube/client.ts';
import {
  ApiError,
  isAborted,
  isAlreadyExists,
  isConflict,
  isForbidden,
  isGone,
  isInvalid,
  isNotFound,
  isResourceVersionTooLarge,
  isTooManyRequests,
  isUnauthorized,
  restartReason,
} from '../../../src/kube/errors.ts';
import { status } from '../../support/fake-kube-api.ts';

const http = (code: number, reason: string, retryAfter?: number): ApiError =>
  ApiError.fromStatus(status(code, reason), 'GET', '/api/v1/pods', code, retryAfter);
const net = (code: string): ApiError => ApiError.transport(code, 'x', 'GET', '/api/v1/pods');

describe('ApiError', () => {
  it('carries status, reason, verb, path and the Status body', () => {
    const e = http(404, 'NotFound');
    expect(e).to.be.instanceOf(Error);
    expect(e.name).to.equal('ApiError');
    expect([e.status, e.reason, e.verb, e.path]).to.deep.equal([
      404,
      'NotFound',
      'GET',
      '/api/v1/pods',
    ]);
    expect(e.body?.kind).to.equal('Status');
    expect(e.message).to.equal('GET /api/v1/pods: 404 NotFound: NotFound');
  });

  it('takes Retry-After from the header, else from details.retryAfterSeconds', () => {
    expect(http(429, 'TooManyRequests', 7).retryAfterSeconds).to.equal(7);
    const fromBody = ApiError.fromStatus(status(429, 'TooManyRequests', 3), 'GET', '/p', 429);
    expect(fromBody.retryAfterSeconds).to.equal(3);
    expect(http(500, 'InternalError').retryAfterSeconds).to.equal(undefined);
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    expect(parseRetryAfter('5')).to.equal(5);
    expect(parseRetryAfter(undefined)).to.equal(undefined);
    expect(parseRetryAfter('soon')).to.equal(undefined);
    const now = Date.parse('2030-01-01T00:00:00Z');
    expect(parseRetryAfter('Tue, 01 Jan 2030 00:00:10 GMT', now)).to.equal(10);
    expect(parseRetryAfter('Tue, 01 Jan 2019 00:00:10 GMT', now)).to.equal(0);
  });

  it('uses the HTTP status when the body is not a Status', () => {
    const e = ApiError.fromStatus({ message: 'Bad Gateway' }, 'GET', '/p', 502);
    expect([e.status, e.reason, e.body]).to.deep.equal([502, '', undefined]);
  });
});

describe('error classification', () => {
  it('classifies by status and reason', () => {
    expect(isNotFound(http(404, 'NotFound'))).to.equal(true);
    expect(isConflict(http(409, 'Conflict'))).to.equal(true);
    expect(isConflict(http(409, 'AlreadyExists'))).to.equal(false);
    expect(isAlreadyExists(http(409, 'AlreadyExists'))).to.equal(true);
    expect(isUnauthorized(http(401, 'Unauthorized'))).to.equal(true);
    expect(isForbidden(http(403, 'Forbidden'))).to.equal(true);
    expect(isInvalid(http(422, 'Invalid'))).to.equal(true);
    expect(isTooManyRequests(http(429, 'TooManyRequests'))).to.equal(true);
    expect(isNotFound(net('ECONNREFUSED'))).to.equal(false);
    expect(isNotFound(new Error('404'))).to.equal(false);
    expect(isNotFound(undefined)).to.equal(false);
  });

  it('isGone: 410, reason Expired or Gone, a Status object and a watch ERROR event', () => {
    expect(isGone(http(410, 'Expired'))).to.equal(true);
    expect(isGone(http(410, ''))).to.equal(true);
    expect(isGone(http(500, 'Expired'))).to.equal(true);
    expect(isGone(status(410, 'Gone'))).to.equal(true);
    expect(isGone({ type: 'ERROR', object: status(410, 'Expired') })).to.equal(true);
    expect(isGone({ type: 'ERROR', object: status(500, 'InternalError') })).to.equal(false);
    expect(isGone(http(404, 'NotFound'))).to.equal(false);
  });

  it('recognises "too large resource version"', () => {
    const s = {
      ...status(504, 'Timeout'),
      details: { causes: [{ reason: 'ResourceVersionTooLarge' }] },
    };
    expect(isResourceVersionTooLarge(ApiError.fromStatus(s, 'WATCH', '/p', 504))).to.equal(true);
    expect(isResourceVersionTooLarge(http(504, 'Timeout'))).to.equal(false);
  });

  it('isAborted: our own abort only', () => {
    expect(isAborted(net('Aborted'))).to.equal(true);
    expect(isAborted(Object.assign(new Error('x'), { name: 'AbortError' }))).to.equal(true);
    expect(isAborted(net('Timeout'))).to.equal(false);
    expect(isAborted(http(499, 'Aborted'))).to.equal(false);
  });

  it('restartReason gives bounded labels', () => {
    const cases: [unknown, string][] = [
      [http(410, 'Expired'), 'gone'],
      [{ type: 'ERROR', object: status(410, 'Expired') }, 'gone'],
      [http(401, 'Unauthorized'), 'unauthorized'],
      [http(403, 'Forbidden'), 'forbidden'],
      [http(429, 'TooManyRequests'), 'throttled'],
      [http(500, 'InternalError'), 'server_error'],
      [http(503, ''), 'server_error'],
      [http(504, 'Timeout'), 'server_error'],
      [net('ECONNREFUSED'), 'network'],
      [net('ECONNRESET'), 'network'],
      [net('Timeout'), 'timeout'],
      [net('Aborted'), 'closed'],
      [net('ShortWatch'), 'closed'],
      [net('ConfigError'), 'other'],
      [http(404, 'NotFound'), 'other'],
      [new Error('boom'), 'other'],
      ['string', 'other'],
    ];
    for (const [e, want] of cases) expect(restartReason(e), String(e)).to.equal(want);
  });
});
