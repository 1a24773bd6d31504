/**
 * Started by supervisor.test.ts without CAP_NET_RAW (setpriv): tries to start raw capture in
 * the mode given as argv[2] and prints the start-up error as JSON.
 */
import { Stats } from '../../src/telemetry/stats.js';
import { RawCaptureSupervisor } from '../../src/raw/supervisor.js';

// `node --test dist/test/` runs every file under test/ as a test: without a mode, do nothing.
const arg = process.argv[2];
if (arg !== 'ipip' && arg !== 'mirror') process.exit(0);
const mode = arg;
const sup = new RawCaptureSupervisor({
  config: {
    raw_ipip_capture_on: mode === 'ipip' ? 1 : 0,
    raw_moni_capture_on: mode === 'mirror' ? 1 : 0,
    raw_socket_listen: '127.0.0.1:5060-5090',
    raw_interface: 'lo',
    raw_sock_children: 1,
    promiscuous_on: 0,
    raw_moni_bpf_on: 1,
  },
  sink: { accept: () => undefined },
  stats: new Stats(null),
  bufferBytes: 1024 * 1024,
});
try {
  await sup.start();
  process.stdout.write(JSON.stringify({ started: true }));
  await sup.stop();
} catch (err) {
  process.stdout.write(JSON.stringify({ error: (err as Error).message, restarts: sup.restarts }));
}
