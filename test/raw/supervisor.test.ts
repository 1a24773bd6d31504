/** Raw capture start-up checks and errors (the live capture itself is in live-*.test.ts). */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Stats } from '../../src/telemetry/stats.js';
import {
  rawCaptureMode,
  RawCaptureConfigError,
  RawCaptureSupervisor,
  validateRawCapture,
  type RawCaptureConfig,
} from '../../src/raw/supervisor.js';
import { captureFilter } from '../../src/raw/bpf.js';
import { rawListenOf } from '../../src/raw/port-filter.js';
import { PROJECT_ROOT, requireOrSkip } from '../helpers/env.js';

const base: RawCaptureConfig = {
  raw_ipip_capture_on: 0,
  raw_moni_capture_on: 1,
  raw_socket_listen: '10.0.0.0:5060-5090',
  raw_interface: 'lo',
  raw_sock_children: 1,
  promiscuous_on: 0,
  raw_moni_bpf_on: 1,
};

const rejects = (cfg: Partial<RawCaptureConfig>, re: RegExp): void => {
  assert.throws(
    () => new RawCaptureSupervisor({ config: { ...base, ...cfg }, sink: { accept: () => undefined }, stats: new Stats(null) }),
    (e: unknown) => e instanceof RawCaptureConfigError && re.test(e.message),
    re.source,
  );
};

describe('raw capture configuration', () => {
  test('mode: none, ipip, mirror; both is a start-up error (as in Kamailio)', () => {
    assert.equal(rawCaptureMode({ ...base, raw_moni_capture_on: 0 }), null);
    assert.equal(rawCaptureMode({ ...base, raw_moni_capture_on: 0, raw_ipip_capture_on: 1 }), 'ipip');
    assert.equal(rawCaptureMode(base), 'mirror');
    rejects({ raw_ipip_capture_on: 1 }, /only one RAW mode is supported/);
    rejects({ raw_moni_capture_on: 0 }, /raw capture is not enabled/);
  });

  test('clear errors: bad range, missing port in mirror mode, bad IP, missing interface, children', () => {
    rejects({ raw_socket_listen: '10.0.0.0:5090-5060' }, /port range 5090-5060 is reversed/);
    rejects({ raw_socket_listen: '10.0.0.0' }, /needs a port/);
    rejects({ raw_socket_listen: 'nonsense:5060' }, /bad RAW IP/);
    rejects({ raw_interface: 'nosuchif0' }, /raw_interface "nosuchif0": no such network interface/);
    rejects({ raw_interface: '../../etc' }, /no such network interface/);
    rejects({ raw_sock_children: 0 }, /raw_sock_children 0/);
    rejects({ raw_sock_children: 1.5 }, /raw_sock_children/);
  });

  test('names: ipip:<ip>:<ports>, mirror:<interface>:<ports>', () => {
    const s = (cfg: Partial<RawCaptureConfig>): string =>
      new RawCaptureSupervisor({ config: { ...base, ...cfg }, sink: { accept: () => undefined }, stats: new Stats(null) }).name;
    assert.equal(s({}), 'mirror:lo:5060-5090');
    assert.equal(s({ raw_interface: '' }), 'mirror:any:5060-5090');
    assert.equal(s({ raw_moni_capture_on: 0, raw_ipip_capture_on: 1, raw_socket_listen: '', raw_interface: '' }), 'ipip:*:any');
    assert.deepEqual(validateRawCapture({ ...base, raw_socket_listen: '[::1]:5060' }).listen.ipVersion, 6, 'mirror: the IP is not used');
    rejects({ raw_moni_capture_on: 0, raw_ipip_capture_on: 1, raw_socket_listen: '[::1]:5060' }, /IPIP capture receives IPv4 outer headers/);
  });

  const hasSetpriv = spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).status === 0;
  const skip = requireOrSkip(process.getuid?.() === 0 && hasSetpriv, 'root and setpriv (to drop CAP_NET_RAW)');

  test('without CAP_NET_RAW, start() rejects with a clear message (both modes) and does not restart', { skip }, () => {
    const ts = fileURLToPath(import.meta.url).endsWith('.ts');
    const probe = fileURLToPath(new URL(ts ? './_eperm-probe.ts' : './_eperm-probe.js', import.meta.url));
    for (const mode of ['mirror', 'ipip']) {
      const r = spawnSync('setpriv', ['--bounding-set=-net_raw', '--', process.execPath, ...(ts ? ['--import', 'tsx'] : []), probe, mode], {
        cwd: PROJECT_ROOT,
        encoding: 'utf8',
        timeout: 30_000,
      });
      const out = JSON.parse(r.stdout || '{}') as { error?: string; restarts?: number };
      assert.match(out.error ?? `no error: ${r.stdout} ${r.stderr}`, /raw capture needs root or CAP_NET_RAW/, mode);
      assert.equal(out.restarts, 0);
    }
  });

  test('the kernel accepts every generated filter (libpcap would otherwise fall back to user space)', { skip }, () => {
    const filters: string[] = [];
    for (const listen of ['1.2.3.4:5060', '1.2.3.4:5060-5090']) {
      for (const bpf of [true, false]) {
        for (const count of [1, 2, 3]) {
          for (let index = 0; index < count; index++) {
            for (const vlan of [true, false]) filters.push(captureFilter({ listen: rawListenOf(listen, true), bpf, index, count, vlan }));
          }
        }
      }
    }
    const script = `
      const { Cap } = require('cap');
      for (const f of JSON.parse(process.argv[1])) {
        for (const dev of f.includes('vlan') ? ['lo'] : ['lo', 'any']) {
          const c = new Cap();
          c.open(dev, f, 1 << 20, Buffer.alloc(65535));
          c.close();
        }
      }`;
    const r = spawnSync(process.execPath, ['-e', script, JSON.stringify(filters)], { cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /Kernel filter failed/);
  });
});
