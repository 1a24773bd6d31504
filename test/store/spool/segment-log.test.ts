import type { SipCaptureRow } from '../../../src/capture/rows.js';
import { spawn } from 'node:child_process';
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cp, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RowBatch } from '../../../src/store/store.js';
import { decodeBatch, encodeBatch, rowBatchCodec } from '../../../src/store/spool/record-codec.js';
import { Spool } from '../../../src/store/spool/segment-log.js';
import { makeEdgeRows, makeReportRows, makeSipRows } from '../postgres/helpers.js';

const root = await mkdtemp(join(tmpdir(), 'sipcapture-spool-'));
let n = 0;
const freshDir = (): string => join(root, `s${n++}`);

/** The on-disk state at a crash: every file but the lock, copied to a new directory. */
async function crashCopy(dir: string): Promise<string> {
  const to = freshDir();
  await cp(dir, to, { recursive: true, filter: (src) => !src.endsWith('/lock') });
  return to;
}

async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.spool')).sort();
}

const batch = (tag: string, rows = 3, seed = 1): RowBatch => ({
  table: `sip_capture_${tag}`,
  kind: 'sip',
  rows: makeSipRows(rows, seed).map((r) => ({ ...r, custom_field1: tag })),
});

/** Replays everything and returns the custom_field1 tag of each batch, in order. */
async function drain(s: Spool<RowBatch>): Promise<string[]> {
  const tags: string[] = [];
  await s.replay(async (b) => {
    tags.push(b.table.replace('sip_capture_', ''));
    await Promise.resolve();
  });
  return tags;
}

describe('spool', () => {
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('codec round-trips every column exactly (msg bytes, NUL, emoji, 64 KB values, report kinds)', () => {
    const sip: RowBatch = { table: 'sip_capture_call_20250101', kind: 'sip', rows: [...makeSipRows(20, 5), ...makeEdgeRows()] };
    const back = decodeBatch(encodeBatch(sip));
    assert.equal(back.table, sip.table);
    assert.equal(back.kind, 'sip');
    // Lone surrogates cannot survive UTF-8; the store replaces them with U+FFFD anyway.
    const fix = (rows: readonly object[]): unknown =>
      JSON.parse(JSON.stringify(rows, (_k, v: unknown) => (typeof v === 'string' ? v.replace(/[\ud800-\udfff]/g, (c, i: number, s: string) => {
        const hi = c.charCodeAt(0) < 0xdc00;
        const pair = hi ? /[\udc00-\udfff]/.test(s[i + 1] ?? '') : /[\ud800-\udbff]/.test(s[i - 1] ?? '');
        return pair ? c : '\ufffd';
      }) : v)));
    assert.deepEqual(fix(back.rows), fix(sip.rows));
    back.rows.forEach((r, i) => assert.ok((r as SipCaptureRow).msg.equals((sip.rows[i] as SipCaptureRow).msg), `msg ${i}`));
    for (const kind of ['rtcp', 'report', 'logs'] as const) {
      const rep: RowBatch = { table: `${kind}_capture`, kind, rows: makeReportRows(10) };
      assert.deepEqual(decodeBatch(encodeBatch(rep)), rep);
    }
    assert.throws(() => decodeBatch(encodeBatch(sip).subarray(0, 100)), RangeError);
  });

  test('a commit token travels with its batch (payload version 2); batches without one stay version 1', async () => {
    const b = { ...batch('T', 2), commitToken: 'pg:123456789' };
    const enc = encodeBatch(b);
    assert.equal(enc[0], 2);
    assert.equal(decodeBatch(enc).commitToken, 'pg:123456789');
    assert.deepEqual(decodeBatch(enc).rows, decodeBatch(encodeBatch(batch('T', 2))).rows);
    assert.equal(encodeBatch(batch('T', 2))[0], 1);
    assert.equal('commitToken' in decodeBatch(encodeBatch(batch('T', 2))), false);
    const dir = freshDir();
    const s = await Spool.open({ codec: rowBatchCodec, dir });
    await s.append(b);
    await s.close();
    const r = await Spool.open({ codec: rowBatchCodec, dir });
    const got: (string | undefined)[] = [];
    await r.replay((x) => {
      got.push(x.commitToken);
      return Promise.resolve();
    });
    assert.deepEqual(got, ['pg:123456789']);
    await r.close({ removeIfEmpty: true });
    await assert.rejects(stat(dir), /ENOENT/, 'an empty spool leaves no directory');
  });

  test('replays that stop at their first record do not start a segment per attempt', async () => {
    const dir = freshDir();
    const s = await Spool.open({ codec: rowBatchCodec, dir });
    const tags = ['A', 'B', 'C', 'D', 'E', 'F'];
    for (const t of tags) {
      // An outage: appends, each followed by a replay attempt failing on the first record.
      await s.append(batch(t));
      await assert.rejects(s.replay(() => Promise.reject(new Error('down'))), /down/);
    }
    // The first attempt sealed the segment it was reading; later ones never reach the new one.
    assert.deepEqual(await segmentFiles(dir), ['seg-0000000000000001.spool', 'seg-0000000000000002.spool']);
    assert.deepEqual(await drain(s), tags);
    await s.close();
  });

  test('append and replay in order across segments; replayed segments are deleted', async () => {
    const dir = freshDir();
    const s = await Spool.open({ codec: rowBatchCodec, dir, segmentBytes: 8 * 1024 });
    const tags = Array.from({ length: 12 }, (_, i) => `b${i}`);
    for (const t of tags) assert.equal(await s.append(batch(t)), true);
    assert.ok((await segmentFiles(dir)).length >= 4, 'several segments');
    assert.equal(s.isEmpty, false);
    const got: RowBatch[] = [];
    const res = await s.replay(async (b) => {
      got.push(b);
      await Promise.resolve();
    });
    assert.deepEqual(got.map((b) => b.table.replace('sip_capture_', '')), tags);
    assert.deepEqual(res, { batches: 12, rows: 36, corruptRecords: 0, corruptBytes: 0 });
    assert.deepEqual(got[3]!.rows, batch('b3').rows);
    assert.deepEqual(await segmentFiles(dir), []);
    assert.equal(s.isEmpty, true);
    assert.deepEqual(await drain(s), [], 'nothing twice');
    // Appending after a full replay works and is replayed next time.
    await s.append(batch('late'));
    assert.deepEqual(await drain(s), ['late']);
    await s.close();
  });

  test('torn tail after a crash: the torn record is skipped, the rest replayed exactly once', async () => {
    const dir = freshDir();
    const s = await Spool.open({ codec: rowBatchCodec, dir });
    for (const t of ['A', 'B', 'C']) await s.append(batch(t, 5));
    // Crash while C was being written: cut the file in the middle of C.
    const crashed = await crashCopy(dir);
    await s.close();
    const [seg] = await segmentFiles(crashed);
    const size = (await stat(join(crashed, seg!))).size;
    await truncate(join(crashed, seg!), size - 700);
    const r = await Spool.open({ codec: rowBatchCodec, dir: crashed });
    // New appends after the restart never land behind the torn record.
    await r.append(batch('D'));
    const got: string[] = [];
    const res = await r.replay(async (b) => {
      got.push(b.table.replace('sip_capture_', ''));
      await Promise.resolve();
    });
    assert.deepEqual(got, ['A', 'B', 'D']);
    assert.equal(res.corruptRecords, 1);
    assert.ok(res.corruptBytes > 0);
    assert.equal(r.stats().corruptRecords, 1);
    assert.deepEqual(await drain(r), []);
    await r.close();
    // And after another restart, still nothing is replayed twice.
    const again = await Spool.open({ codec: rowBatchCodec, dir: crashed });
    assert.deepEqual(await drain(again), []);
    await again.close();
  });

  test('a flipped byte (bit rot) fails the CRC: that record and the rest of its segment are skipped', async () => {
    const dir = freshDir();
    const s = await Spool.open({ codec: rowBatchCodec, dir, segmentBytes: 12 * 1024 });
    for (const t of ['A', 'B', 'C', 'D', 'E', 'F']) await s.append(batch(t, 2));
    await s.close();
    const segs = await segmentFiles(dir);
    assert.ok(segs.length >= 2);
    const first = join(dir, segs[0]!);
    const buf = await readFile(first);
    buf[buf.length - 10] = buf[buf.length - 10]! ^ 0xff; // inside the last record of segment 1
    await writeFile(first, buf);
    const r = await Spool.open({ codec: rowBatchCodec, dir });
    const got = await drain(r);
    assert.equal(r.stats().corruptRecords, 1);
    // Everything but the damaged record, in order.
    const all = ['A', 'B', 'C', 'D', 'E', 'F'];
    assert.equal(got.length, all.length - 1);
    assert.deepEqual(got, all.filter((t) => got.includes(t)));
    await r.close();
  });

  test('a failing handler stops replay; the offset survives a crash, so nothing is lost or repeated', async () => {
    const dir = freshDir();
    const s = await Spool.open({ codec: rowBatchCodec, dir, segmentBytes: 10 * 1024 });
    const all = ['A', 'B', 'C', 'D', 'E', 'F', 'G'];
    for (const t of all) await s.append(batch(t, 2));
    const committed: string[] = [];
    await assert.rejects(
      s.replay(async (b) => {
        const tag = b.table.replace('sip_capture_', '');
        if (tag === 'D') throw new Error('database down again');
        committed.push(tag);
        await Promise.resolve();
      }),
      /database down again/,
    );
    assert.deepEqual(committed, ['A', 'B', 'C']);
    // Crash now: a new process resumes at D.
    const crashed = await crashCopy(dir);
    const r = await Spool.open({ codec: rowBatchCodec, dir: crashed });
    assert.deepEqual(await drain(r), ['D', 'E', 'F', 'G']);
    await r.close();
    // The original instance resumes at D too.
    assert.deepEqual(await drain(s), ['D', 'E', 'F', 'G']);
    await s.close();
  });

  test('the read position is written in place into two slots: a torn slot falls back to the previous position', async () => {
    const dir = freshDir();
    const s = await Spool.open({ codec: rowBatchCodec, dir });
    const files = (await readdir(dir)).sort();
    assert.ok(files.includes('offset.a') && files.includes('offset.b'), `slots exist from the start: ${files.join(' ')}`);
    for (const t of ['A', 'B', 'C']) await s.append(batch(t, 2));
    const inodeA = (await stat(join(dir, 'offset.a'))).ino;
    await assert.rejects(
      s.replay(async (b) => {
        if (b.table.endsWith('C')) throw new Error('down');
        await Promise.resolve();
      }),
      /down/,
    );
    assert.equal((await stat(join(dir, 'offset.a'))).ino, inodeA, 'overwritten in place (no new file: works on a full disk)');
    const crashed = await crashCopy(dir);
    // Tear the newest slot (a crash in the middle of its write): the other one says "after A".
    const slots = await Promise.all(['offset.a', 'offset.b'].map(async (f) => ({ f, buf: await readFile(join(crashed, f)) })));
    const newest = slots.reduce((x, y) => (x.buf.readDoubleBE(0) >= y.buf.readDoubleBE(0) ? x : y));
    await writeFile(join(crashed, newest.f), Buffer.concat([newest.buf.subarray(0, 10), Buffer.alloc(18, 0xff)]));
    const r = await Spool.open({ codec: rowBatchCodec, dir: crashed });
    assert.deepEqual(await drain(r), ['B', 'C'], 'B (committed just before the torn write) once more, nothing lost');
    await r.close();
    assert.deepEqual(await drain(s), ['C']);
    await s.close();
  });

  test('full spool: append answers false and writes nothing; space returns after replay', async () => {
    const dir = freshDir();
    const one = encodeBatch(batch('X', 2)).length + 12;
    const s = await Spool.open({ codec: rowBatchCodec, dir, maxBytes: 8 + one * 3 + 10, segmentBytes: 1024 ** 2 });
    assert.equal(await s.append(batch('A', 2)), true);
    assert.equal(await s.append(batch('B', 2)), true);
    assert.equal(await s.append(batch('C', 2)), true);
    const bytes = s.stats().bytes;
    assert.equal(await s.append(batch('D', 2)), false);
    assert.equal(await s.append(batch('E', 2)), false);
    assert.equal(s.stats().rejectedFull, 2);
    assert.equal(s.stats().bytes, bytes);
    assert.deepEqual(await drain(s), ['A', 'B', 'C']);
    assert.equal(s.stats().bytes, 0);
    assert.equal(await s.append(batch('F', 2)), true);
    assert.deepEqual(await drain(s), ['F']);
    await s.close();
  });

  test('appends during a replay go to the next replay; concurrent appends keep their order', async () => {
    const dir = freshDir();
    const s = await Spool.open({ codec: rowBatchCodec, dir });
    await Promise.all(['A', 'B', 'C'].map((t) => s.append(batch(t))));
    const first: string[] = [];
    await s.replay(async (b) => {
      const tag = b.table.replace('sip_capture_', '');
      first.push(tag);
      if (tag === 'A') assert.equal(await s.append(batch('late')), true);
    });
    assert.deepEqual(first, ['A', 'B', 'C']);
    const running = drain(s);
    await assert.rejects(s.replay(() => Promise.resolve()), /already running/);
    assert.deepEqual(await running, ['late']);
    assert.deepEqual(await drain(s), []);
    await s.close();
  });

  test('one process per directory', async () => {
    const dir = freshDir();
    const s = await Spool.open({ codec: rowBatchCodec, dir });
    await assert.rejects(Spool.open({ codec: rowBatchCodec, dir }), /already open/);
    await s.close();
    const again = await Spool.open({ codec: rowBatchCodec, dir });
    await again.close();
    // A lock left by a dead process is taken over.
    await writeFile(join(dir, 'lock'), '999999999');
    const stale = await Spool.open({ codec: rowBatchCodec, dir });
    await stale.close();
    // A lock file naming a live process that is not a spool holder (pid reused after a crash or
    // a reboot) does not block the start either: only a held flock does.
    await writeFile(join(dir, 'lock'), String(process.ppid));
    const reused = await Spool.open({ codec: rowBatchCodec, dir });
    await reused.close();
  });

  test('the lock is the kernel\'s: refused while another process holds it, free the moment it is killed', { timeout: 20_000 }, async () => {
    const dir = freshDir();
    // Run from src/ (tsx) or from the build (dist/): the holder imports the same kind of file.
    const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
    const holder = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '-e',
        `import { Spool } from ${JSON.stringify(new URL(`../../../src/store/spool/segment-log.${ext}`, import.meta.url).href)};
         import { rowBatchCodec } from ${JSON.stringify(new URL(`../../../src/store/spool/record-codec.${ext}`, import.meta.url).href)};
         await Spool.open({ codec: rowBatchCodec, dir: ${JSON.stringify(dir)} });
         console.log('held');
         setInterval(() => {}, 1000);`,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    try {
      await new Promise<void>((resolve, reject) => {
        holder.stdout.on('data', (d: Buffer) => {
          if (d.toString().includes('held')) resolve();
        });
        holder.on('exit', (code) => reject(new Error(`holder exited with ${code}`)));
      });
      await assert.rejects(Spool.open({ codec: rowBatchCodec, dir }), /in use by another running process/);
      const exited = new Promise((resolve) => holder.once('exit', resolve));
      holder.kill('SIGKILL');
      await exited;
      const after = await Spool.open({ codec: rowBatchCodec, dir });
      await after.close();
    } finally {
      holder.kill('SIGKILL');
    }
  });

  test('the directory deleted while open: made again, later records spooled there, no phantom bytes, the loss counted', async () => {
    const dir = freshDir();
    const told: { bytes: number; rows: number }[] = [];
    const s = await Spool.open({ codec: rowBatchCodec, dir, onRecreated: (lost) => told.push(lost) });
    assert.equal(await s.append(batch('A', 2)), true);
    assert.equal(await s.append(batch('B', 3)), true);
    const lostBytes = s.stats().pendingBytes;
    await rm(dir, { recursive: true, force: true });
    assert.equal(await s.append(batch('C', 4)), true);
    const files = await segmentFiles(dir);
    assert.equal(files.length, 1, 'C is in a segment of the recreated directory');
    const onDisk = (await stat(join(dir, files[0]!))).size;
    assert.equal(s.stats().bytes, onDisk, 'spool bytes are what is on disk, not what went with the old directory');
    assert.equal(s.stats().lostBytes, lostBytes);
    assert.equal(s.stats().lostRows, 5);
    assert.deepEqual(told, [{ bytes: lostBytes, rows: 5 }]);
    assert.deepEqual(await drain(s), ['C']);
    await s.close();
    // The recreated directory is a whole spool: its lock, id and read position are there.
    const again = await Spool.open({ codec: rowBatchCodec, dir });
    assert.equal(again.id, s.id);
    assert.equal(again.isEmpty, true);
    await again.close();
  });

  test('restart keeps pending records and their order (clean close)', async () => {
    const dir = freshDir();
    const s = await Spool.open({ codec: rowBatchCodec, dir, segmentBytes: 6 * 1024 });
    for (const t of ['A', 'B', 'C', 'D']) await s.append(batch(t, 2));
    await s.close();
    const r = await Spool.open({ codec: rowBatchCodec, dir, segmentBytes: 6 * 1024 });
    assert.equal(r.isEmpty, false);
    await r.append(batch('E', 2));
    assert.deepEqual(await drain(r), ['A', 'B', 'C', 'D', 'E']);
    await r.close();
  });
});
