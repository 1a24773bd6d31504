/**
 * `sipcapture import-kamailio kamailio.cfg`: turns the sipcapture-related parts of a Kamailio
 * configuration into a sipcapture config (JSON5 on stdout or -o FILE) and lists what it could
 * not translate. Read: `modparam("sipcapture", …)` (and topoh's mask_key / callid_prefix),
 * `listen=`, `port=`, `disable_tcp`, `tcp_accept_hep3` / `tcp_accept_protocols`, with the
 * preprocessor's `#!define`, `#!substdef` and `#!ifdef`/`#!ifndef`/`#!else`/`#!endif`. The
 * routing script itself is not translated, except its `has_totag()` blocks (rules with
 * `has_to_tag`); calls to sip_capture() with the Homer 5 daily table names select the `homer5`
 * routes preset.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import net from 'node:net';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { ConfigError, validateConfig } from '../config/load.js';
import { KAMAILIO_UNSUPPORTED, PARAMS } from '../config/params.js';
import { expandRoutes } from '../config/routes.js';
import type { RouteRule } from '../config/types.js';

/** Kamailio's default db_url: it applies when the cfg does not set one. */
const KAMAILIO_DEFAULT_DB_URL = 'mysql://kamailio:kamailiorw@localhost/kamailio';

export interface KamailioImport {
  /** modparam("sipcapture", …) lines found (0: not a sipcapture config at all). */
  sipcaptureModparams: number;
  /** sipcapture parameters, in output order. */
  config: Map<string, unknown>;
  /** Where each value came from (a comment line in the output). */
  origin: Map<string, string>;
  /** What was not translated or needs a look, one sentence each. */
  notes: string[];
}

interface Statement {
  text: string;
  line: number;
}

/** Removes comments (`#` but not `#!`, `//`, block comments), outside of strings. */
function stripComments(text: string): string {
  let out = '';
  let i = 0;
  let quote: string | null = null;
  while (i < text.length) {
    const c = text[i] as string;
    const next = text[i + 1];
    if (quote !== null) {
      out += c;
      if (c === '\\' && next !== undefined) {
        out += next;
        i += 2;
        continue;
      }
      if (c === quote) quote = null;
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      out += c;
      i++;
    } else if (c === '#' && next !== '!' && !(next === '#' && text[i + 2] === '!')) {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && next === '/') {
      while (i < text.length && text[i] !== '\n') i++;
    } else if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      const skipped = text.slice(i, end < 0 ? text.length : end + 2);
      out += skipped.replace(/[^\n]/g, ''); // keep line numbers
      i = end < 0 ? text.length : end + 2;
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

interface Preprocessed {
  lines: Statement[];
  defines: Map<string, string>;
  notes: string[];
}

/** Applies #!define / #!substdef / #!ifdef …; returns the remaining lines with their numbers. */
function preprocess(text: string): Preprocessed {
  const defines = new Map<string, string>();
  const substs: { from: string; to: string; global: boolean }[] = [];
  const notes: string[] = [];
  const lines: Statement[] = [];
  const stack: boolean[] = [];
  const active = (): boolean => stack.every(Boolean);
  text.split('\n').forEach((raw, idx) => {
    const line = raw.trim();
    const m = /^#!!?(\w+)\s*(.*)$/.exec(line);
    if (m !== null) {
      const [, directive = '', rest = ''] = m;
      switch (directive) {
        case 'ifdef':
          stack.push(defines.has(rest.trim()));
          return;
        case 'ifndef':
          stack.push(!defines.has(rest.trim()));
          return;
        case 'else':
          if (stack.length > 0) stack[stack.length - 1] = !stack[stack.length - 1];
          return;
        case 'endif':
          stack.pop();
          return;
      }
      if (!active()) return;
      if (directive === 'define' || directive === 'trydef' || directive === 'redefine') {
        const d = /^(\w+)\s*(.*)$/.exec(rest);
        if (d !== null && (directive !== 'trydef' || !defines.has(d[1] ?? ''))) defines.set(d[1] ?? '', (d[2] ?? '').trim());
      } else if (directive === 'substdef' || directive === 'subst') {
        const s = /^"(.)(.*)\1(.*)\1(\w*)"$/.exec(rest.trim());
        if (s === null) notes.push(`line ${idx + 1}: #!${directive} ${rest} not understood; its substitution was not applied`);
        else substs.push({ from: s[2] ?? '', to: s[3] ?? '', global: (s[4] ?? '').includes('g') });
        if (s !== null && directive === 'substdef') defines.set(s[2] ?? '', s[3] ?? '');
      }
      return;
    }
    if (!active()) return;
    let t = raw;
    for (const s of substs) t = s.global ? t.split(s.from).join(s.to) : t.replace(s.from, s.to);
    lines.push({ text: t, line: idx + 1 });
  });
  return { lines, defines, notes };
}

/** A cfg value: "string" (adjacent strings joined), 'string', an integer, or a #!define name. */
function parseValue(text: string, defines: Map<string, string>): string | number | undefined {
  let t = text.trim();
  const def = defines.get(t);
  if (def !== undefined) t = def.trim();
  if (/^-?\d+$/.test(t)) return Number(t);
  const parts = [...t.matchAll(/"((?:[^"\\]|\\.)*)"|'((?:[^'\\]|\\.)*)'/g)];
  if (parts.length > 0) return parts.map((p) => (p[1] ?? p[2] ?? '').replace(/\\(.)/g, '$1')).join('');
  return undefined;
}

/** Splits `a, "b,c", 3` at top-level commas. */
function splitArgs(text: string): string[] {
  const args: string[] = [];
  let cur = '';
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (quote !== null) {
      cur += c;
      if (c === '\\') cur += text[++i] ?? '';
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") {
      quote = c;
      cur += c;
    } else if (c === ',') {
      args.push(cur);
      cur = '';
    } else cur += c;
  }
  args.push(cur);
  return args.map((a) => a.trim());
}

const PARAM_TYPES = new Map(PARAMS.filter((p) => p.kamailio).map((p) => [p.name as string, p.type]));

function isYes(v: string | number | undefined): boolean {
  return v === 1 || (typeof v === 'string' && /^(yes|on|true|1)$/i.test(v.trim()));
}

export function translateKamailioCfg(text: string): KamailioImport {
  const config = new Map<string, unknown>();
  const origin = new Map<string, string>();
  const pre = preprocess(stripComments(text));
  const notes = [...pre.notes];
  const source = pre.lines.map((l) => l.text).join('\n');

  const set = (key: string, value: unknown, from: string): void => {
    config.set(key, value);
    origin.set(key, from);
  };

  // ---- modparam("module", "name", value) ----
  const captureModes: string[] = [];
  let maskCallid: number | undefined;
  let sipcaptureModparams = 0;
  for (const { text: lineText, line } of pre.lines) {
    for (const m of lineText.matchAll(/modparamx?\s*\(([^)]*(?:"[^"]*"[^)]*)*)\)/g)) {
      const args = splitArgs(m[1] ?? '');
      if (args.length !== 3) continue;
      const mod = parseValue(args[0] ?? '', pre.defines);
      const name = parseValue(args[1] ?? '', pre.defines);
      if (typeof mod !== 'string' || typeof name !== 'string') continue;
      const modules = mod.split('|');
      const value = parseValue(args[2] ?? '', pre.defines);
      const from = `line ${line}: ${m[0].trim()}`;
      if (modules.includes('topoh')) {
        if (name === 'mask_key' && typeof value === 'string') set('topoh_mask_key', value, from);
        else if (name === 'callid_prefix' && typeof value === 'string') set('topoh_callid_prefix', value, from);
        else if (name === 'mask_callid' && typeof value === 'number') maskCallid = value;
      }
      if (!modules.includes('sipcapture')) continue;
      sipcaptureModparams++;
      if (value === undefined) {
        notes.push(`${from}: the value is not a literal (or a #!define of one); not translated`);
        continue;
      }
      if (name === 'capture_mode') {
        captureModes.push(String(value));
        origin.set('capture_mode', from);
        continue;
      }
      const unsupported = KAMAILIO_UNSUPPORTED[name];
      if (unsupported !== undefined) {
        notes.push(`${from}: ${name} is not translated (${unsupported})`);
        continue;
      }
      const type = PARAM_TYPES.get(name);
      if (type === undefined) {
        notes.push(`${from}: ${name} is not a sipcapture module parameter sipcapture knows; not translated`);
        continue;
      }
      if (name === 'nonsip_hook' || name === 'event_callback') {
        if (name === 'nonsip_hook' && value !== 0) {
          notes.push(
            `${from}: nonsip_hook is set to 0. Kamailio needs the hook for HEP over TCP; sipcapture decodes HEP on UDP and TCP without it. ` +
              'If event_route[sipcapture:request] does more than "return 1" (report_capture, filtering), port it to a hook module (docs/hooks.md) and set nonsip_hook, event_callback and hook_module.',
          );
        }
        if (name === 'event_callback') notes.push(`${from}: event_callback names a KEMI function; port it to a JavaScript hook module (docs/hooks.md)`);
        continue;
      }
      if ((type === 'int' || type === 'flag') && typeof value !== 'number') {
        notes.push(`${from}: ${name} needs an integer, got ${JSON.stringify(value)}; not translated`);
        continue;
      }
      set(name, type === 'flag' && typeof value === 'number' ? (value !== 0 ? 1 : 0) : value, from);
    }
  }
  if (captureModes.length > 0) config.set('capture_mode', captureModes.length === 1 ? captureModes[0] : captureModes);
  if (!config.has('db_url')) {
    set('db_url', KAMAILIO_DEFAULT_DB_URL, "Kamailio's default db_url (the cfg does not set one)");
  }
  if (config.get('topoh_unmask') === 1 && maskCallid !== 1) {
    notes.push('topoh_unmask is 1 but topoh mask_callid is not 1: Kamailio 5.6 then stores empty Call-IDs; sipcapture unmasks with topoh_mask_key / topoh_callid_prefix regardless');
  }

  // ---- core: listen=, port=, TCP ----
  const core = (name: string): string | number | undefined => {
    const m = new RegExp(`^\\s*${name}\\s*=\\s*(.+?)\\s*$`, 'm').exec(source);
    if (m === null) return undefined;
    return parseValue(m[1] ?? '', pre.defines) ?? (m[1] ?? '').trim();
  };
  const defaultPort = Number(core('port') ?? 5060);
  const disableTcp = isYes(core('disable_tcp'));
  const acceptProtocols = String(core('tcp_accept_protocols') ?? '');
  const tcpHep = !disableTcp && (isYes(core('tcp_accept_hep3')) || /hep3/i.test(acceptProtocols));
  const listen: string[] = [];
  for (const { text: lineText, line } of pre.lines) {
    const m = /^\s*listen\s*=\s*(.+?)\s*$/.exec(lineText);
    if (m === null) continue;
    const spec = (m[1] ?? '').replace(/^"(.*)"$/, '$1');
    const from = `line ${line}: listen=${spec}`;
    const first = spec.split(/\s+/)[0] ?? '';
    if (/\s(advertise|name|virtual)\s/i.test(` ${spec} `)) notes.push(`${from}: advertise / name / virtual are ignored`);
    const a = /^(?:(udp|tcp|tls|sctp|ws|wss):)?(\[[^\]]+\]|[^:[\]]+)(?::(\d+))?$/i.exec(first);
    if (a === null) {
      notes.push(`${from}: not understood; not translated`);
      continue;
    }
    const proto = (a[1] ?? '').toLowerCase();
    const hostText = a[2] ?? '';
    const host = hostText.startsWith('[') ? hostText.slice(1, -1) : hostText;
    const port = a[3] !== undefined ? Number(a[3]) : defaultPort;
    if (!net.isIP(host)) {
      notes.push(`${from}: ${host} is not an IP address (a host name or interface); sipcapture listens on IP literals only — not translated`);
      continue;
    }
    const hostPort = net.isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
    const protos = proto === '' ? ['udp', ...(tcpHep ? ['tcp'] : [])] : [proto];
    for (const p of protos) {
      if (p === 'udp') listen.push(`udp:${hostPort}`);
      else if (p === 'tcp') {
        if (tcpHep) listen.push(`tcp:${hostPort}`);
        else notes.push(`${from}: TCP without tcp_accept_hep3 carries no HEP in Kamailio; not translated`);
      } else if (p === 'tls') {
        notes.push(`${from}: not translated — for HEP over TLS add "tls:${hostPort}" to listen with tls_cert_file and tls_key_file (Kamailio's tls.cfg is not read; docs/security.md)`);
      } else notes.push(`${from}: ${p.toUpperCase()} is not supported by sipcapture; not translated`);
    }
  }
  if (listen.length > 0) set('listen', [...new Set(listen)], 'listen= lines');
  else notes.push('no usable listen= line: the sipcapture default (udp and tcp on 127.0.0.1:9060) applies');

  // ---- the script ----
  const homer5 = /sip_capture_(call|registration|rest)_%Y%m%d/.test(source);
  const inDialog = inDialogRules(source, notes);
  if (inDialog.length > 0) {
    set('routes', [...inDialog, ...expandRoutes(homer5 ? 'homer5' : 'default')], `has_totag() conditions of the script, then the ${homer5 ? 'homer5' : 'default'} rules`);
    notes.push(
      `request_route is translated only in part: its has_totag() blocks became the first ${inDialog.length} rule(s), followed by the ${homer5 ? '"homer5"' : '"default"'} rules; compare them with your script (docs/configuration.md)`,
    );
  } else if (homer5) {
    set('routes', 'homer5', 'sip_capture() calls with the Homer 5 daily tables');
    notes.push('request_route is not translated: the Homer 5 table scheme was recognised and the routes preset "homer5" chosen; compare it with your script (docs/configuration.md)');
  } else {
    set('routes', 'default', 'every SIP message through the default capture mode');
    notes.push('request_route is not translated: routes "default" stores every SIP message through the default capture mode; write route rules if your script filters or picks tables');
  }
  if (/\breport_capture\s*\(/.test(source)) notes.push('report_capture() calls in the script are not translated: RTCP (5), reports (32, 34, 35, 99) and logs (100) are stored automatically; other uses need a hook module (docs/hooks.md)');
  if (/\bsip_capture_forward\s*\(/.test(source)) notes.push('sip_capture_forward() is not supported by sipcapture');
  set('date_time_zone', 'local', 'Kamailio writes `date` in local time');
  return { sipcaptureModparams, config, origin, notes };
}

/** Method names of `$rm =~ "^(A|B)$"`, `$rm == "A"` or `is_method("A|B")`, or null for anything else. */
function methodsOf(term: string): string[] | null {
  const re = /^\$rm\s*=~\s*"\^?\(?([A-Za-z|]+)\)?\$?"$/.exec(term);
  const eq = /^\$rm\s*==\s*"([A-Za-z]+)"$/.exec(term);
  const is = /^is_method\s*\(\s*"([A-Za-z|]+)"\s*\)$/.exec(term);
  const list = re?.[1] ?? eq?.[1] ?? is?.[1];
  return list === undefined ? null : list.split('|').filter((m) => m !== '');
}

/**
 * Rules for the script's `if (…has_totag()…) { … sip_capture("table") … }` blocks, the usual way
 * a capture config sends in-dialog requests (e.g. NOTIFY) to the call table. The condition may
 * also hold one method test joined with `&&`; anything else is left to the operator, with a note.
 */
function inDialogRules(source: string, notes: string[]): RouteRule[] {
  const rules: RouteRule[] = [];
  for (const m of source.matchAll(/\bif\s*\(((?:[^(){}]|\([^()]*\))*\bhas_totag\s*\(\s*\)(?:[^(){}]|\([^()]*\))*)\)\s*\{([^{}]*)\}/g)) {
    const cond = (m[1] ?? '').trim();
    const capture = /\bsip_capture\s*\(\s*"([^"]*)"/.exec(m[2] ?? '');
    if (capture === null) continue;
    const rule: RouteRule = {};
    let understood = true;
    for (const raw of cond.split('&&')) {
      const term = raw.trim().replace(/^\((.*)\)$/, '$1').trim();
      if (/^has_totag\s*\(\s*\)$/.test(term)) rule.has_to_tag = true;
      else if (/^!\s*has_totag\s*\(\s*\)$/.test(term)) rule.has_to_tag = false;
      else {
        const methods = methodsOf(term);
        if (methods === null || rule.method !== undefined) understood = false;
        else rule.method = methods;
      }
    }
    if (!understood) {
      notes.push(`the condition "if (${cond})" is not translated; write a route rule for it (has_to_tag, method, event, table)`);
      continue;
    }
    if (capture[1] !== '') rule.table = capture[1];
    rules.push(rule);
  }
  return rules;
}

/** The JSON5 text of an import, commented with where each value came from. */
export function renderImport(result: KamailioImport, sourceName: string): string {
  const lines = [`// sipcapture configuration translated from ${sourceName} by \`sipcapture import-kamailio\`.`, '// Check it with: sipcapture check-config -c FILE', '{'];
  for (const [key, value] of result.config) {
    const from = result.origin.get(key);
    if (from !== undefined) lines.push(`  // ${from.replace(/\n/g, ' ')}`);
    lines.push(`  ${key}: ${JSON.stringify(value)},`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}

interface ImportArgs {
  file: string;
  output?: string;
}

export const importKamailioCommand: CommandModule<object, ImportArgs> = {
  command: 'import-kamailio <file>',
  describe: 'Translate the sipcapture modparams and listen= lines of a kamailio.cfg into a sipcapture config',
  builder: (y: Argv) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'kamailio.cfg' })
      .option('output', { alias: 'o', type: 'string', describe: 'write the config here instead of stdout' }),
  handler: (argv: ArgumentsCamelCase<ImportArgs>) => {
    let text: string;
    try {
      text = readFileSync(argv.file, 'utf8');
    } catch (err) {
      process.stderr.write(`error: cannot read ${argv.file}: ${(err as Error).message}\n`);
      process.exitCode = 2;
      return;
    }
    const result = translateKamailioCfg(text);
    if (result.sipcaptureModparams === 0) {
      process.stderr.write(
        `error: ${argv.file} has no modparam("sipcapture", …) line: it does not configure Kamailio's sipcapture module, so there is nothing to translate (no file written). Start from config/sipcapture.json5 instead.\n`,
      );
      process.exitCode = 2;
      return;
    }
    const out = renderImport(result, path.basename(argv.file));
    // Validate as the daemon would; problems are reported, the file is still written.
    const target = argv.output ?? path.join(process.cwd(), 'imported.json5');
    try {
      validateConfig(Object.fromEntries(result.config), target);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      for (const p of err.problems) result.notes.push(`the result does not validate yet: ${p.key}: ${p.message}`);
    }
    if (argv.output !== undefined) writeFileSync(argv.output, out);
    else process.stdout.write(out);
    for (const n of result.notes) process.stderr.write(`note: ${n}\n`);
  },
};
