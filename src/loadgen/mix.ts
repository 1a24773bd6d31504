/**
 * SIP traffic mixes for the load generator: call flows (INVITE/100/180/200/ACK/BYE/200 with
 * SDP), registrations (REGISTER/401/REGISTER/200) and OPTIONS pings.
 *
 * Rendering SIP text per message would cost more than sending it, so each message of each flow
 * is rendered once per *variant* (users, user agents, optional headers, SDP size) with a
 * fixed-width placeholder where the per-flow unique part goes (Call-ID, tags, branches). The
 * packet factory patches that placeholder per flow, so every flow has a unique Call-ID at the
 * cost of a buffer copy.
 */

/** Stands for the per-flow token in rendered templates; never occurs in generated SIP otherwise. */
export const FLOW_TOKEN_PLACEHOLDER = '~~~~~~~~~~~~~~~~';
export const FLOW_TOKEN_LENGTH = FLOW_TOKEN_PLACEHOLDER.length;

export type MixName = 'call' | 'register' | 'options' | 'mixed';
export const MIX_NAMES: readonly MixName[] = ['call', 'register', 'options', 'mixed'];
export type FlowKind = Exclude<MixName, 'mixed'>;

/** One message of a flow: SIP text with placeholders, and the direction it travels. */
export interface MessageTemplate {
  /** Request method or reply code, for summaries and tests. */
  label: string;
  /** CSeq method (decides the Homer 5 table of a reply). */
  cseqMethod: string;
  text: string;
  srcIp: string;
  srcPort: number;
  dstIp: string;
  dstPort: number;
}

/** All messages of one flow variant, in sending order. */
export interface FlowTemplate {
  kind: FlowKind;
  messages: readonly MessageTemplate[];
}

/** Flow weights of the `mixed` mix (per flow, not per message): ~61 % of messages are call, ~26 % registration, ~13 % OPTIONS. */
export const MIXED_FLOW_WEIGHTS: Readonly<Record<FlowKind, number>> = { call: 0.4, register: 0.3, options: 0.3 };

/** Deterministic PRNG (mulberry32), so a given seed always gives the same traffic. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const USER_AGENTS = [
  'Yealink SIP-T46S 66.86.0.15',
  'Polycom/5.9.7.2840 PolycomVVX-VVX_450-UA/5.9.7.2840',
  'Linphone/5.2.0 (belle-sip/5.2.0)',
  'Zoiper rv2.10.19.9',
  'MicroSIP/3.21.3',
  'Grandstream GXP2170 1.0.11.23',
  'Cisco-CP8845/14.2.1',
  'Bria 6 release 6.5.3',
];
const SERVERS = ['Asterisk PBX 20.5.0', 'FreeSWITCH-mod_sofia/1.10.11-release', 'kamailio (5.6.3 (x86_64/linux))', 'OpenSIPS (3.4.2 (x86_64/linux))'];
const DOMAINS = ['sip.example.com', 'voip.example.net', 'pbx.example.org'];
const NAMES = ['Alice', 'Bob', 'Carol', 'Dave', 'Erin', 'Frank', 'Grace', 'Heidi', 'Ivan', 'Judy', 'Mallory', 'Oscar', 'Peggy', 'Trent'];
const CODECS: readonly [number, string][] = [
  [0, 'PCMU/8000'],
  [8, 'PCMA/8000'],
  [9, 'G722/8000'],
  [18, 'G729/8000'],
  [96, 'opus/48000/2'],
  [3, 'GSM/8000'],
];

const PROXY_IP = '198.51.100.1';
const PROXY_PORT = 5060;

interface Party {
  name: string;
  user: string;
  domain: string;
  ip: string;
  port: number;
  ua: string;
}

function party(rnd: () => number, pick: <T>(a: readonly T[]) => T, net: string): Party {
  return {
    name: pick(NAMES),
    user: `+49${30 + Math.floor(rnd() * 60)}${String(Math.floor(rnd() * 1e7)).padStart(7, '0')}`,
    domain: pick(DOMAINS),
    ip: `${net}.${1 + Math.floor(rnd() * 250)}`,
    port: rnd() < 0.7 ? 5060 : 1024 + Math.floor(rnd() * 60000),
    ua: pick(USER_AGENTS),
  };
}

function sdp(rnd: () => number, ip: string, codecs: number): string {
  const list = CODECS.slice(0, codecs);
  const port = 10000 + 2 * Math.floor(rnd() * 10000);
  const session = String(Math.floor(rnd() * 1e10));
  const lines = [
    'v=0',
    `o=- ${session} ${session} IN IP4 ${ip}`,
    's=-',
    `c=IN IP4 ${ip}`,
    't=0 0',
    `m=audio ${port} RTP/AVP ${list.map(([pt]) => pt).join(' ')} 101`,
    ...list.map(([pt, name]) => `a=rtpmap:${pt} ${name}`),
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-16',
    'a=ptime:20',
    'a=sendrecv',
    '',
  ];
  return lines.join('\r\n');
}

function message(startLine: string, headers: readonly string[], body = ''): string {
  return [startLine, ...headers, `Content-Length: ${Buffer.byteLength(body)}`, '', body].join('\r\n');
}

const T = FLOW_TOKEN_PLACEHOLDER;

function callFlow(rnd: () => number, pick: <T>(a: readonly T[]) => T): FlowTemplate {
  const a = party(rnd, pick, '10.20.30');
  const b = party(rnd, pick, '203.0.113');
  const callId = `${T}@${a.ip}`;
  const aUri = `sip:${a.user}@${a.domain}`;
  const bUri = `sip:${b.user}@${b.domain}`;
  const fromHdr = `From: "${a.name}" <${aUri}>;tag=${T}a`;
  const toHdr = `To: <${bUri}>`;
  const toTagged = `${toHdr};tag=${T}b`;
  const viaA = (n: number): string => `Via: SIP/2.0/UDP ${a.ip}:${a.port};branch=z9hG4bK${T}${n};rport`;
  const viaAReply = (n: number): string => `Via: SIP/2.0/UDP ${a.ip}:${a.port};branch=z9hG4bK${T}${n};rport=${a.port};received=${a.ip}`;
  const cseq = 1 + Math.floor(rnd() * 9000);
  const withPai = rnd() < 0.5;
  const withRr = rnd() < 0.5;
  const offer = sdp(rnd, a.ip, 2 + Math.floor(rnd() * 5));
  const answer = sdp(rnd, b.ip, 1 + Math.floor(rnd() * 2));
  const server = pick(SERVERS);
  const rr = withRr ? [`Record-Route: <sip:${PROXY_IP};lr;ftag=${T}a>`] : [];
  const contactB = `Contact: <sip:${b.user}@${b.ip}:${b.port}>`;
  const up = { srcIp: a.ip, srcPort: a.port, dstIp: PROXY_IP, dstPort: PROXY_PORT };
  const down = { srcIp: PROXY_IP, srcPort: PROXY_PORT, dstIp: a.ip, dstPort: a.port };
  const invite = message(
    `INVITE ${bUri} SIP/2.0`,
    [
      viaA(1),
      'Max-Forwards: 70',
      fromHdr,
      toHdr,
      `Call-ID: ${callId}`,
      `CSeq: ${cseq} INVITE`,
      `Contact: <sip:${a.user}@${a.ip}:${a.port};transport=udp>`,
      ...(withPai ? [`P-Asserted-Identity: "${a.name}" <sip:${a.user}@${a.domain}>`] : []),
      'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, PRACK, REFER, NOTIFY, MESSAGE',
      'Supported: replaces, timer, 100rel',
      'Session-Expires: 1800',
      `User-Agent: ${a.ua}`,
      'Content-Type: application/sdp',
    ],
    offer,
  );
  const reply = (code: string, extra: readonly string[], body = '', method = 'INVITE', n = 1, tagged = true): string =>
    message(
      `SIP/2.0 ${code}`,
      [viaAReply(n), fromHdr, tagged ? toTagged : toHdr, `Call-ID: ${callId}`, `CSeq: ${method === 'BYE' ? cseq + 1 : cseq} ${method}`, ...extra],
      body,
    );
  const messages: MessageTemplate[] = [
    { label: 'INVITE', cseqMethod: 'INVITE', text: invite, ...up },
    { label: '100', cseqMethod: 'INVITE', text: reply('100 Trying', [`Server: ${server}`], '', 'INVITE', 1, false), ...down },
    { label: '180', cseqMethod: 'INVITE', text: reply('180 Ringing', [...rr, contactB, `Server: ${server}`]), ...down },
    {
      label: '200',
      cseqMethod: 'INVITE',
      text: reply('200 OK', [...rr, contactB, 'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS', `Server: ${server}`, 'Content-Type: application/sdp'], answer),
      ...down,
    },
    {
      label: 'ACK',
      cseqMethod: 'ACK',
      text: message(`ACK sip:${b.user}@${b.ip}:${b.port} SIP/2.0`, [
        viaA(2),
        'Max-Forwards: 70',
        fromHdr,
        toTagged,
        `Call-ID: ${callId}`,
        `CSeq: ${cseq} ACK`,
        `User-Agent: ${a.ua}`,
      ]),
      ...up,
    },
    {
      label: 'BYE',
      cseqMethod: 'BYE',
      text: message(`BYE sip:${b.user}@${b.ip}:${b.port} SIP/2.0`, [
        viaA(3),
        'Max-Forwards: 70',
        fromHdr,
        toTagged,
        `Call-ID: ${callId}`,
        `CSeq: ${cseq + 1} BYE`,
        ...(rnd() < 0.3 ? ['Reason: Q.850;cause=16;text="Normal call clearing"'] : []),
        `User-Agent: ${a.ua}`,
      ]),
      ...up,
    },
    { label: '200', cseqMethod: 'BYE', text: reply('200 OK', [`Server: ${server}`], '', 'BYE', 3), ...down },
  ];
  return { kind: 'call', messages };
}

function registerFlow(rnd: () => number, pick: <T>(a: readonly T[]) => T): FlowTemplate {
  const a = party(rnd, pick, '10.40.50');
  const callId = `${T}@${a.ip}`;
  const aor = `sip:${a.user}@${a.domain}`;
  const fromHdr = `From: <${aor}>;tag=${T}r`;
  const toHdr = `To: <${aor}>`;
  const expires = pick([300, 600, 1800, 3600]);
  const hex = (n: number): string => Array.from({ length: n }, () => '0123456789abcdef'[Math.floor(rnd() * 16)]).join('');
  const instance = `${hex(8)}-${hex(4)}-4${hex(3)}-9${hex(3)}-${hex(12)}`;
  const contact = `Contact: <sip:${a.user}@${a.ip}:${a.port};transport=udp>;+sip.instance="<urn:uuid:${instance}>";expires=${expires}`;
  const cseq = 1 + Math.floor(rnd() * 100);
  const nonce = `${T}${T}`;
  const realm = a.domain;
  const server = pick(SERVERS);
  const up = { srcIp: a.ip, srcPort: a.port, dstIp: PROXY_IP, dstPort: PROXY_PORT };
  const down = { srcIp: PROXY_IP, srcPort: PROXY_PORT, dstIp: a.ip, dstPort: a.port };
  const request = (n: number, auth: readonly string[]): string =>
    message(`REGISTER sip:${a.domain} SIP/2.0`, [
      `Via: SIP/2.0/UDP ${a.ip}:${a.port};branch=z9hG4bK${T}${n};rport`,
      'Max-Forwards: 70',
      fromHdr,
      toHdr,
      `Call-ID: ${callId}`,
      `CSeq: ${cseq + n - 1} REGISTER`,
      contact,
      ...auth,
      'Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, MESSAGE, OPTIONS, INFO, SUBSCRIBE',
      `Expires: ${expires}`,
      `User-Agent: ${a.ua}`,
    ]);
  const reply = (n: number, code: string, extra: readonly string[]): string =>
    message(`SIP/2.0 ${code}`, [
      `Via: SIP/2.0/UDP ${a.ip}:${a.port};branch=z9hG4bK${T}${n};rport=${a.port};received=${a.ip}`,
      fromHdr,
      `${toHdr};tag=${T}s`,
      `Call-ID: ${callId}`,
      `CSeq: ${cseq + n - 1} REGISTER`,
      ...extra,
      `Server: ${server}`,
    ]);
  const messages: MessageTemplate[] = [
    { label: 'REGISTER', cseqMethod: 'REGISTER', text: request(1, []), ...up },
    {
      label: '401',
      cseqMethod: 'REGISTER',
      text: reply(1, '401 Unauthorized', [`WWW-Authenticate: Digest realm="${realm}", nonce="${nonce}", qop="auth", algorithm=MD5`]),
      ...down,
    },
    {
      label: 'REGISTER',
      cseqMethod: 'REGISTER',
      text: request(2, [
        `Authorization: Digest username="${a.user}", realm="${realm}", nonce="${nonce}", uri="sip:${a.domain}", response="${T}${T}", algorithm=MD5, cnonce="${T}", qop=auth, nc=00000001`,
      ]),
      ...up,
    },
    { label: '200', cseqMethod: 'REGISTER', text: reply(2, '200 OK', [contact, `Date: Sun, 22 Nov 2026 12:00:00 GMT`]), ...down },
  ];
  return { kind: 'register', messages };
}

function optionsFlow(rnd: () => number, pick: <T>(a: readonly T[]) => T): FlowTemplate {
  const a = party(rnd, pick, '10.60.70');
  const callId = `${T}@${PROXY_IP}`;
  const server = pick(SERVERS);
  // Proxy pings the endpoint (keep-alive), the endpoint answers.
  const fromHdr = `From: <sip:ping@${PROXY_IP}>;tag=${T}o`;
  const toHdr = `To: <sip:${a.user}@${a.ip}:${a.port}>`;
  const via = `Via: SIP/2.0/UDP ${PROXY_IP}:${PROXY_PORT};branch=z9hG4bK${T}1`;
  const messages: MessageTemplate[] = [
    {
      label: 'OPTIONS',
      cseqMethod: 'OPTIONS',
      text: message(`OPTIONS sip:${a.user}@${a.ip}:${a.port} SIP/2.0`, [
        via,
        'Max-Forwards: 70',
        fromHdr,
        toHdr,
        `Call-ID: ${callId}`,
        'CSeq: 1 OPTIONS',
        `Contact: <sip:ping@${PROXY_IP}:${PROXY_PORT}>`,
        'Accept: application/sdp',
        `User-Agent: ${server}`,
      ]),
      srcIp: PROXY_IP,
      srcPort: PROXY_PORT,
      dstIp: a.ip,
      dstPort: a.port,
    },
    {
      label: '200',
      cseqMethod: 'OPTIONS',
      text: message('SIP/2.0 200 OK', [
        `${via};received=${PROXY_IP}`,
        fromHdr,
        `${toHdr};tag=${T}p`,
        `Call-ID: ${callId}`,
        'CSeq: 1 OPTIONS',
        `Contact: <sip:${a.user}@${a.ip}:${a.port}>`,
        'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, UPDATE, REFER, NOTIFY',
        'Accept: application/sdp',
        'Supported: replaces, timer',
        `User-Agent: ${a.ua}`,
      ]),
      srcIp: a.ip,
      srcPort: a.port,
      dstIp: PROXY_IP,
      dstPort: PROXY_PORT,
    },
  ];
  return { kind: 'options', messages };
}

const BUILDERS: Readonly<Record<FlowKind, (rnd: () => number, pick: <T>(a: readonly T[]) => T) => FlowTemplate>> = {
  call: callFlow,
  register: registerFlow,
  options: optionsFlow,
};

/** `variants` flow templates of `kind`, deterministic for `seed`. */
export function flowTemplates(kind: FlowKind, variants: number, seed: number): FlowTemplate[] {
  const rnd = prng(seed);
  const pick = <X>(a: readonly X[]): X => a[Math.floor(rnd() * a.length)]!;
  return Array.from({ length: variants }, () => BUILDERS[kind](rnd, pick));
}

/** Which flow kinds a mix uses, with their weights (per flow). */
export function mixWeights(mix: MixName): Readonly<Partial<Record<FlowKind, number>>> {
  return mix === 'mixed' ? MIXED_FLOW_WEIGHTS : { [mix]: 1 };
}
