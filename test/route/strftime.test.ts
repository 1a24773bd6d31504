import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { STRFTIME_CONVERSIONS } from '../../src/config/table-template.js';
import { compileStrftime, STRFTIME_IMPLEMENTED, strftimeUtc } from '../../src/route/strftime.js';

// Expected values from GNU `date -u -d @T "+%Y %C %y %G %g %m %d %j %H %I %M %S %u %w %U %W %V %s %e"`.
const GNU_DATE: [number, string][] = [
  [0, '1970 19 70 1970 70 01 01 001 00 12 00 00 4 4 00 00 01 0  1'],
  [1700000000, '2023 20 23 2023 23 11 14 318 22 10 13 20 2 2 46 46 46 1700000000 14'],
  [1704067199, '2023 20 23 2023 23 12 31 365 23 11 59 59 7 0 53 52 52 1704067199 31'],
  [1704067200, '2024 20 24 2024 24 01 01 001 00 12 00 00 1 1 00 01 01 1704067200  1'],
  [1735603200, '2024 20 24 2025 25 12 31 366 00 12 00 00 2 2 52 53 01 1735603200 31'],
  [1735689599, '2024 20 24 2025 25 12 31 366 23 11 59 59 2 2 52 53 01 1735689599 31'],
  [1609459200, '2021 20 21 2020 20 01 01 001 00 12 00 00 5 5 00 00 53 1609459200  1'],
  [1230768000, '2009 20 09 2009 09 01 01 001 00 12 00 00 4 4 00 00 01 1230768000  1'],
  [951782400, '2000 20 00 2000 00 02 29 060 00 12 00 00 2 2 09 09 09 951782400 29'],
  [4102444799, '2099 20 99 2099 99 12 31 365 23 11 59 59 4 4 52 52 53 4102444799 31'],
];
const ALL = '%Y %C %y %G %g %m %d %j %H %I %M %S %u %w %U %W %V %s %e';

describe('strftimeUtc', () => {
  for (const [t, expected] of GNU_DATE) {
    test(`every conversion at ${t} matches GNU date -u`, () => {
      assert.equal(strftimeUtc(ALL, t), expected);
      // The same through a fresh compiled template (no cache involved).
      assert.equal(compileStrftime(ALL).format(t), expected);
    });
  }

  test('table templates (packet time 1700000000.123456)', () => {
    assert.equal(strftimeUtc('sip_capture_call_%Y%m%d', 1700000000.123456), 'sip_capture_call_20231114');
    assert.equal(strftimeUtc('sip_capture', 1700000000), 'sip_capture');
    assert.equal(strftimeUtc('t_%Y%m%d_%H', 1700000000), 't_20231114_22');
    assert.equal(strftimeUtc('t_%H%M%S', 1700000000), 't_221320');
    assert.equal(strftimeUtc('pct_%%_%y', 1700000000), 'pct_%_23');
    assert.equal(strftimeUtc('day_%j_%e', 1700000000), 'day_318_14');
    assert.equal(strftimeUtc('day_%e', 1704067200), 'day_ 1');
    // Always UTC, whatever TZ says (the packet's UTC time, as gmtime()).
    assert.equal(strftimeUtc('%Y-%m-%d %H', 1700000000), '2023-11-14 22');
  });

  test('implements every table-safe conversion the config validator allows, plus %e and %%', () => {
    for (const letter of Object.keys(STRFTIME_CONVERSIONS)) {
      assert.ok(STRFTIME_IMPLEMENTED.has(letter), `%${letter}`);
      const out = strftimeUtc(`%${letter}`, 1700000000);
      assert.match(out, /^[0-9]+$/, `%${letter} → ${out}`);
      assert.ok(out.length <= (STRFTIME_CONVERSIONS[letter]?.width ?? 0), `%${letter} width`);
    }
    assert.ok(STRFTIME_IMPLEMENTED.has('e'));
    assert.ok(STRFTIME_IMPLEMENTED.has('%'));
  });

  test('rejects unknown conversions and a lone %', () => {
    assert.throws(() => compileStrftime('x_%Q'), /%Q/);
    assert.throws(() => compileStrftime('x_%a'), /not supported/);
    assert.throws(() => compileStrftime('x_%'), /lone/);
  });

  test('granularity: the finest unit used decides how long a name is cached', () => {
    assert.equal(compileStrftime('x').isConstant, true);
    assert.equal(compileStrftime('x_%%').isConstant, true);
    assert.equal(compileStrftime('x_%%').format(5), 'x_%');
    assert.equal(compileStrftime('x_%Y%m%d').granularitySec, 86_400);
    assert.equal(compileStrftime('x_%Y%V').granularitySec, 86_400);
    assert.equal(compileStrftime('x_%Y%m%d%H').granularitySec, 3600);
    assert.equal(compileStrftime('x_%M').granularitySec, 60);
    assert.equal(compileStrftime('x_%s').granularitySec, 1);
  });

  test('cache: same string object within a bucket, right name across midnight and back', () => {
    const t = compileStrftime('sip_capture_call_%Y%m%d');
    const midnight = 1704067200; // 2024-01-01 00:00:00 UTC
    const a = t.format(midnight - 10);
    assert.equal(a, 'sip_capture_call_20231231');
    assert.equal(t.format(midnight - 1), a);
    assert.equal(t.format(midnight), 'sip_capture_call_20240101');
    // Late packets from yesterday interleaved with today's.
    assert.equal(t.format(midnight - 5), 'sip_capture_call_20231231');
    assert.equal(t.format(midnight + 5), 'sip_capture_call_20240101');
    assert.equal(t.format(midnight + 86_400), 'sip_capture_call_20240102');
    assert.equal(t.format(midnight - 86_400 - 1), 'sip_capture_call_20231230');
    // Fractions and non-finite input.
    assert.equal(t.format(midnight - 0.5), 'sip_capture_call_20231231');
    assert.equal(t.format(Number.NaN), 'sip_capture_call_19700101');
  });

  test('hot path is cheap (cached formatting)', () => {
    const t = compileStrftime('sip_capture_call_%Y%m%d');
    const start = process.hrtime.bigint();
    let n = 0;
    for (let i = 0; i < 1_000_000; i++) n += t.format(1700000000 + (i % 1000)).length;
    const ns = Number(process.hrtime.bigint() - start) / 1_000_000;
    assert.equal(n, 25 * 1_000_000);
    assert.ok(ns < 500, `${ns.toFixed(1)} ns per call`);
  });
});
