import { expect } from 'chai';
import { silentLog } from '../../../src/base/log.ts';
import type { Component, StopOptions } from '../../../src/runtime/component.ts';
import { Manager, type Election, type LeaderHooks } from '../../../src/runtime/manager.ts';
import { flush, FakeClock } from '../../support/fake-clock.ts';

/** A component that records what the manager did to it. */
function probe(name: string, needsLeader: boolean, journal: string[]): Component {
  return {
    name,
    needsLeader,
    start: async () => void journal.push(`start ${name}`),
    stop: async (o: StopOptions) =>
      void journal.push(`stop ${name} ${o.graceful ? 'graceful' : 'abrupt'}`),
  };
}

class FakeElection implements Election {
  hooks!: LeaderHooks;
  leading = false;
  released = 0;
  ran = false;
  async run(signal: AbortSignal): Promise<void> {
    this.ran = true;
    await new Promise<void>((r) => signal.addEventListener('abort', () => r(), { once: true }));
  }
  isLeader(): boolean {
    return this.leading;
  }
  remainingMs(): number {
    return this.leading ? 5000 : 0;
  }
  async release(): Promise<void> {
    this.released++;
  }
}

function setup(withElection: boolean) {
  const journal: string[] = [];
  const election = new FakeElection();
  const leading: boolean[] = [];
  const clock = new FakeClock();
  const manager = new Manager({
    log: silentLog,
    clock,
    election: withElection
      ? (hooks) => {
          election.hooks = hooks;
          return election;
        }
      : undefined,
    onLeading: (on) => leading.push(on),
  });
  manager.add(probe('servers', false, journal));
  manager.add(probe('caches', false, journal));
  manager.add(probe('status', true, journal));
  manager.add(probe('pods', true, journal));
  return { journal, election, manager, leading, clock };
}

describe('Manager', () => {
  it('starts everywhere-components at once, leader components only when leading, in order', async () => {
    const { journal, election, manager, leading } = setup(true);
    await manager.start();
    expect(journal).to.deep.equal(['start servers', 'start caches']);
    expect(election.ran).to.equal(true);
    expect(manager.isLeader()).to.equal(false);
    election.leading = true;
    election.hooks.onStartedLeading();
    await flush();
    expect(journal).to.deep.equal(['start servers', 'start caches', 'start status', 'start pods']);
    expect(manager.isLeader()).to.equal(true);
    expect(leading).to.deep.equal([true]);
  });

  it('without an election this replica leads at once', async () => {
    const { journal, manager } = setup(false);
    await manager.start();
    await flush();
    expect(journal.slice(2)).to.deep.equal(['start status', 'start pods']);
    expect(manager.isLeader()).to.equal(true);
  });

  it('a graceful stop drains leader components in reverse, releases the lease, then stops the rest', async () => {
    const { journal, election, manager } = setup(true);
    await manager.start();
    election.leading = true;
    election.hooks.onStartedLeading();
    await flush();
    journal.length = 0;
    const leaderDuringStop: boolean[] = [];
    manager.add({
      name: 'watcher',
      needsLeader: true,
      start: async () => undefined,
      stop: async () => void leaderDuringStop.push(manager.isLeader()),
    });
    await manager.stop(10_000);
    expect(journal).to.deep.equal([
      'stop pods graceful',
      'stop status graceful',
      'stop caches graceful',
      'stop servers graceful',
    ]);
    // Leader components still lead while they drain (their last writes land).
    expect(leaderDuringStop).to.deep.equal([true]);
    expect(election.released).to.equal(1);
    expect(manager.isLeader()).to.equal(false);
    expect(await manager.done).to.equal('stopped');
  });

  it('a lost lease stops everything at once, leader components first, and ends with lost-leadership', async () => {
    const { journal, election, manager, leading } = setup(true);
    await manager.start();
    election.leading = true;
    election.hooks.onStartedLeading();
    await flush();
    journal.length = 0;
    election.leading = false;
    election.hooks.onStoppedLeading();
    expect(manager.isLeader()).to.equal(false);
    expect(await manager.done).to.equal('lost-leadership');
    expect(journal).to.deep.equal([
      'stop pods abrupt',
      'stop status abrupt',
      'stop caches abrupt',
      'stop servers abrupt',
    ]);
    expect(election.released).to.equal(0);
    expect(leading).to.deep.equal([true, false]);
  });

  it('bounds every stop by the deadline: a component that hangs does not hold the process', async () => {
    const clock = new FakeClock();
    const manager = new Manager({ log: silentLog, clock });
    manager.add({
      name: 'stuck',
      needsLeader: false,
      start: async () => undefined,
      stop: () => new Promise(() => undefined),
    });
    await manager.start();
    let stopped = false;
    const stopping = manager.stop(1000).then(() => (stopped = true));
    await flush();
    expect(stopped).to.equal(false);
    await clock.run(1000);
    await stopping;
    expect(stopped).to.equal(true);
  });

  it('a leader component that fails to start is logged; the ones after it still start', async () => {
    const journal: string[] = [];
    const manager = new Manager({ log: silentLog });
    manager.add({
      name: 'broken',
      needsLeader: true,
      start: async () => {
        throw new Error('no');
      },
      stop: async () => undefined,
    });
    manager.add(probe('next', true, journal));
    await manager.start();
    await flush();
    expect(journal).to.deep.equal(['start next']);
  });

  it('serves named checks: ok when all pass, else the failing details', () => {
    const manager = new Manager({ log: silentLog });
    let watches = true;
    manager.addHealthCheck('watches', () =>
      watches ? { ok: true, detail: 'ok' } : { ok: false, detail: 'watch failing: pods' },
    );
    manager.addReadyCheck('caches', () => ({ ok: false, detail: 'caches not synced: pods' }));
    manager.addReadyCheck('policies', () => ({ ok: false, detail: 'policies not loaded' }));
    expect(manager.healthz()).to.deep.equal({ ok: true, detail: 'ok' });
    watches = false;
    expect(manager.healthz()).to.deep.equal({ ok: false, detail: 'watch failing: pods' });
    expect(manager.readyz()).to.deep.equal({
      ok: false,
      detail: 'caches not synced: pods; policies not loaded',
    });
  });
});
