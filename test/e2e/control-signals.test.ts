/**
 * The daemon as systemd runs it (`sipcapture run` in a child process): SIGHUP reloads the
 * config file, and SIGTERM under load stops the listeners, drains every queued row into the
 * database and exits 0 within a bounded time — every packet it received is a row.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import dgram from 'node:dgram';
import { spawnCli } from '../helpers/cli.js';
import { freePort, sendUdp, waitFor } from '../helpers/net.js';
import { sipRequest } from '../helpers/sip-messages.js';
import { DAY, hep, makeTmpDir, tableNames, tableRows } from '../control/helpers.js';

interface Child {
  output: () => string;
  exited: Promise<number | null>;
  kill: (signal: NodeJS.Signals) => void;
}

function run(configFile: string): Child {
  const child = spawnCli(['run', '-c', configFile]);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  return { output: () => out, exited, kill: (s) => child.kill(s) };
}

/** The JSON log lines with this msg. */
function logLines(out: string, msg: string): Record<string, unknown>[] {
  return out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l['msg'] === msg);
}

describe('signals', () => {
  let dir: string;
  before(() => {
    dir = makeTmpDir('sipcapture-signals-');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('SIGHUP reloads the config: a new table template is used without a restart', async () => {
    const port = await freePort();
    const dbFile = path.join(dir, 'hup.sqlite');
    const configFile = path.join(dir, 'hup.json5');
    const base = { db_url: `sqlite://${dbFile}`, capture_on: 1, hep_capture_on: 1, listen: [`udp:127.0.0.1:${port}`], http_listen: '', rpc_socket: 'hup.sock', spool_dir: path.join(dir, 'spool-hup'), batch_timeout_ms: 20 };
    writeFileSync(configFile, JSON.stringify({ ...base, routes: [{ table: 'before_%Y%m%d' }] }));
    const c = run(configFile);
    try {
      assert.ok(await waitFor(() => c.output().includes('sipcapture running'), 20_000), c.output());
      await sendUdp([hep(sipRequest('OPTIONS', 'hup-1@x').text)], port);
      assert.ok(await waitFor(() => tableRows(dbFile, `before_${DAY}`).length === 1));
      writeFileSync(configFile, JSON.stringify({ ...base, routes: [{ table: 'after_%Y%m%d' }] }));
      c.kill('SIGHUP');
      assert.ok(await waitFor(() => logLines(c.output(), 'configuration reloaded').length === 1, 10_000), c.output());
      assert.deepEqual(logLines(c.output(), 'configuration reloaded')[0]?.['applied'], ['routes']);
      await sendUdp([hep(sipRequest('OPTIONS', 'hup-2@x').text)], port);
      assert.ok(await waitFor(() => tableRows(dbFile, `after_${DAY}`).length === 1));
      c.kill('SIGTERM');
      assert.equal(await c.exited, 0, c.output());
    } finally {
      c.kill('SIGKILL');
    }
  });

  test('SIGTERM under load: every received packet is stored, exit 0 within the deadline', async () => {
    const port = await freePort();
    const dbFile = path.join(dir, 'term.sqlite');
    const configFile = path.join(dir, 'term.json5');
    // Long batches: most rows are still queued when SIGTERM arrives, so only the drain stores them.
    writeFileSync(
      configFile,
      JSON.stringify({
        db_url: `sqlite://${dbFile}`,
        capture_on: 1,
        hep_capture_on: 1,
        listen: [`udp:127.0.0.1:${port}`],
        http_listen: '',
        rpc_socket: 'term.sock',
        spool_dir: path.join(dir, 'spool-term'),
        routes: 'homer5',
        batch_timeout_ms: 1000,
        batch_size: 100000,
      }),
    );
    const c = run(configFile);
    const sock = dgram.createSocket('udp4');
    let sending = true;
    let sent = 0;
    try {
      assert.ok(await waitFor(() => c.output().includes('sipcapture running'), 20_000), c.output());
      const packets = Array.from({ length: 200 }, (_, i) => hep(sipRequest(i % 2 === 0 ? 'INVITE' : 'OPTIONS', `term-${i}@x`).text));
      // Keep sending, in bursts, before, during and after the SIGTERM.
      const sender = (async () => {
        while (sending) {
          for (let k = 0; k < 20; k++) sock.send(packets[sent++ % packets.length] as Buffer, port, '127.0.0.1');
          await new Promise((r) => setTimeout(r, 2));
        }
      })();
      await new Promise((r) => setTimeout(r, 700));
      const termAt = Date.now();
      c.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 300));
      sending = false;
      await sender;
      const code = await c.exited;
      const took = Date.now() - termAt;
      assert.equal(code, 0, c.output());
      assert.ok(took < 10_000, `exit took ${took} ms`);
    } finally {
      sending = false;
      sock.close();
      c.kill('SIGKILL');
    }
    const stopped = logLines(c.output(), 'stopped')[0]?.['stats'] as { received: Record<string, number>; stored: Record<string, number>; dropped: Record<string, number> };
    assert.ok(stopped, c.output());
    const received = Object.values(stopped.received).reduce((a, b) => a + b, 0);
    const stored = Object.values(stopped.stored).reduce((a, b) => a + b, 0);
    assert.ok(received > 500, `only ${received} packets received (sent ${sent})`);
    assert.deepEqual(stopped.dropped, {});
    assert.equal(stored, received, 'every received packet became a row');
    const rows = tableNames(dbFile)
      .filter((n) => n.startsWith('sip_capture_'))
      .reduce((n, table) => n + tableRows(dbFile, table).length, 0);
    assert.equal(rows, received, 'rows in the database');
  });
});
