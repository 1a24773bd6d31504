// sipcapture viewer: search, live view and call flows, from the daemon's read-only JSON API.
// Every value shown comes from captured SIP, i.e. from strangers: the DOM is built with
// createElement + textContent only (never innerHTML), and the server's Content-Security-Policy
// allows no inline script and nothing from another origin.

const SVG = 'http://www.w3.org/2000/svg';
const LANE_GAP = 160;
const LEFT = 140;
const TOP = 48;
const ROW = 30;

/** An element with attributes and children (strings become text nodes). */
function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) e.setAttribute(k, String(v));
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function svg(tag, attrs = {}, text) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

function status(text, isError = false) {
  const s = document.getElementById('status');
  s.textContent = text;
  s.className = isError ? 'error' : '';
}

async function api(path) {
  const res = await fetch(path, { headers: { accept: 'application/json' }, credentials: 'same-origin' });
  const body = await res.json().catch(() => ({ error: `HTTP ${res.status}` }));
  if (!res.ok) throw new Error(body.error || `HTTP ${res.status}`);
  return body;
}

const pad = (n, w = 2) => String(n).padStart(w, '0');
/** µs → `2026-12-06 11:20:01.123456` (UTC). */
function utc(us, withDate = true) {
  const d = new Date(Math.floor(us / 1000));
  const t = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(Math.floor(us) % 1000000, 6)}`;
  return withDate ? `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${t}` : t;
}
const endpoint = (ip, port) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);
const isReply = (method) => /^\d{3}$/.test(method);
const callHref = (m) => `/call/${encodeURIComponent(m.callid)}?at=${m.microTs}`;

// ---- message tables (search results, live view) ----

const COLUMNS = [
  ['Time (UTC)', (m) => utc(m.microTs)],
  ['Method', (m) => (isReply(m.method) ? `${m.method} ${m.replyReason}` : m.method)],
  ['From', (m) => m.fromUser],
  ['To', (m) => m.toUser],
  ['R-URI user', (m) => m.ruriUser],
  ['Source', (m) => endpoint(m.sourceIp, m.sourcePort)],
  ['Destination', (m) => endpoint(m.destinationIp, m.destinationPort)],
  ['Call-ID', null],
  ['User-Agent', (m) => m.userAgent],
  ['Node', (m) => m.node],
];

function messageRow(m) {
  const tr = el('tr');
  for (const [name, value] of COLUMNS) {
    if (value === null) {
      tr.append(el('td', { title: m.callid }, el('a', { href: callHref(m), class: 'callid' }, m.callid)));
    } else {
      const text = value(m);
      tr.append(el('td', { title: text, class: name === 'Method' && isReply(m.method) ? 'reply' : null }, text));
    }
  }
  return tr;
}

function messageTable(id) {
  const head = el('tr');
  for (const [name] of COLUMNS) head.append(el('th', {}, name));
  return el('table', { id, class: 'rows' }, el('thead', {}, head), el('tbody'));
}

// ---- search ----

const FIELDS = [
  ['callid', 'Call-ID'],
  ['from_user', 'From user'],
  ['to_user', 'To user'],
  ['ruri_user', 'R-URI user'],
  ['method', 'Method or reply code'],
  ['source_ip', 'Source IP'],
  ['destination_ip', 'Destination IP'],
  ['node', 'Node'],
  ['user_agent', 'User-Agent contains'],
];
const SINCE = [['15m', 15], ['1h', 60], ['6h', 360], ['24h', 1440], ['7d', 10080]];

function searchView(main, params) {
  const form = el('form', { class: 'search', method: 'get', action: '/' });
  for (const [name, label] of FIELDS) {
    form.append(el('label', {}, label, el('input', { name, value: params.get(name) ?? '', autocomplete: 'off', spellcheck: 'false' })));
  }
  const since = el('select', { name: 'since' });
  for (const [v] of SINCE) since.append(el('option', { value: v }, `last ${v}`));
  since.value = params.get('since') ?? '1h';
  form.append(el('label', {}, 'Time range', since));
  form.append(el('label', {}, 'From (UTC, overrides the range)', el('input', { name: 'from', type: 'datetime-local', step: '1', value: params.get('from') ?? '' })));
  form.append(el('label', {}, 'To (UTC)', el('input', { name: 'to', type: 'datetime-local', step: '1', value: params.get('to') ?? '' })));
  form.append(el('label', {}, 'Limit', el('input', { name: 'limit', type: 'number', min: '1', max: '1000', value: params.get('limit') ?? '200' })));
  form.append(el('div', { class: 'buttons' }, el('button', { type: 'submit' }, 'Search'), el('a', { href: '/' }, 'clear')));
  main.append(form);
  const note = el('p', { class: 'note', id: 'result-note' });
  const table = messageTable('results');
  main.append(note, table);
  runSearch(params, note, table.tBodies[0]);
}

/** Form values → API query: UTC times as milliseconds, `since` as a from time. */
function apiQuery(params) {
  const q = new URLSearchParams();
  for (const [name] of FIELDS) {
    const v = (params.get(name) ?? '').trim();
    if (v !== '') q.set(name, v);
  }
  const now = Date.now();
  const to = params.get('to') ? Date.parse(`${params.get('to')}Z`) : now;
  const minutes = (SINCE.find(([v]) => v === params.get('since')) ?? SINCE[1])[1];
  const from = params.get('from') ? Date.parse(`${params.get('from')}Z`) : to - minutes * 60000;
  if (Number.isFinite(from)) q.set('from', String(from));
  if (Number.isFinite(to)) q.set('to', String(to));
  q.set('limit', params.get('limit') || '200');
  return q;
}

async function runSearch(params, note, tbody) {
  status('searching…');
  try {
    const res = await api(`/api/search?${apiQuery(params)}`);
    tbody.replaceChildren(...res.messages.map(messageRow));
    note.textContent = `${res.messages.length} message${res.messages.length === 1 ? '' : 's'}, newest first${res.truncated ? ' (more match: narrow the search or raise the limit)' : ''}.`;
    status('');
  } catch (err) {
    status(`search failed: ${err.message}`, true);
  }
}

// ---- live ----

function liveView(main) {
  const pause = el('button', { type: 'button', class: 'secondary', id: 'live-pause' }, 'Pause');
  const note = el('p', { class: 'note' }, 'The latest messages as they are stored (last hour), refreshed every second. ', pause);
  const table = messageTable('live-table');
  main.append(note, table);
  const tbody = table.tBodies[0];
  // Rows are asked again for 10 s back (a batch can commit after a newer one, an agent's clock can
  // lag) and the ones already shown are skipped.
  const OVERLAP_US = 10_000_000;
  let shown = new Set();
  let after = 0;
  let paused = false;
  pause.addEventListener('click', () => {
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
  });
  const poll = async () => {
    if (!paused && document.visibilityState !== 'hidden') {
      try {
        const res = await api(`/api/latest?after=${Math.max(0, after - OVERLAP_US)}&limit=200`);
        const fresh = res.messages.filter((m) => !shown.has(`${m.table}#${m.id}`));
        if (fresh.length > 0) for (const row of tbody.querySelectorAll('tr.new')) row.classList.remove('new');
        const rows = fresh.map((m) => {
          const tr = messageRow(m);
          tr.dataset.key = `${m.table}#${m.id}`;
          shown.add(tr.dataset.key);
          if (after > 0) tr.classList.add('new');
          return tr;
        });
        if (fresh.length > 0) after = Math.max(after, ...fresh.map((m) => m.microTs));
        tbody.prepend(...rows);
        while (tbody.rows.length > 500) tbody.deleteRow(-1);
        if (shown.size > 2000) shown = new Set([...tbody.rows].map((r) => r.dataset.key));
        status(`updated ${new Date().toISOString().slice(11, 19)} UTC`);
      } catch (err) {
        status(`live view: ${err.message}`, true);
      }
    }
    setTimeout(poll, 1000);
  };
  poll();
}

// ---- call flow ----

async function callView(main, callId, params) {
  main.append(el('h1', {}, 'Call-ID ', el('span', { id: 'call-id' }, callId)));
  status('loading the call…');
  let res;
  try {
    const q = new URLSearchParams();
    for (const k of ['at', 'from', 'to']) if (params.get(k)) q.set(k, params.get(k));
    res = await api(`/api/call/${encodeURIComponent(callId)}?${q}`);
  } catch (err) {
    status(`call: ${err.message}`, true);
    return;
  }
  status('');
  const { flow, ladder } = res;
  const path = `/api/call/${encodeURIComponent(callId)}`;
  const query = params.get('at') ? `?at=${encodeURIComponent(params.get('at'))}` : '';
  const summary = el('p', { class: 'note' }, `${flow.messages.length} messages`);
  if (flow.callIds.length > 1) summary.append(`, legs: ${flow.callIds.slice(1).join(', ')}`);
  if (flow.truncated) summary.append(' (cut: the call has more messages)');
  summary.append('. ', el('span', { class: 'exports' }, el('a', { href: `${path}/pcap${query}`, id: 'export-pcap' }, 'Download pcap'), el('a', { href: `${path}/text${query}`, id: 'export-text' }, 'Download text')));
  main.append(summary);
  main.append(el('p', { class: 'note' }, 'Blue: requests, green: replies, purple: the other legs; dashed: a retransmission. Click an arrow for its message.'));
  if (flow.messages.length === 0) {
    main.append(el('p', {}, 'No messages of this call in the time range.'));
    return;
  }
  const detail = el('section', { class: 'detail', id: 'detail' });
  const box = el('div', { class: 'ladder-box' });
  box.append(ladderSvg(ladder, (i) => showMessage(detail, flow.messages[i], i, flow.messages.length)));
  main.append(el('div', { class: 'call' }, box, detail));
  showMessage(detail, flow.messages[0], 0, flow.messages.length);
  box.querySelector('.arrow')?.classList.add('selected');
  if (flow.side.length > 0) main.append(sideTable(flow.side));
}

function ladderSvg(ladder, onSelect) {
  const width = LEFT + Math.max(1, ladder.lanes.length) * LANE_GAP;
  const height = TOP + ladder.arrows.length * ROW + 20;
  const root = svg('svg', { id: 'ladder', width, height, viewBox: `0 0 ${width} ${height}` });
  const defs = svg('defs');
  for (const kind of ['req', 'reply', 'leg']) {
    const marker = svg('marker', { id: `head-${kind}`, viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 8, markerHeight: 8, orient: 'auto-start-reverse' });
    marker.append(svg('path', { d: 'M0,0 L10,5 L0,10 z', class: `head-${kind}` }));
    defs.append(marker);
  }
  root.append(defs);
  const x = (lane) => LEFT + LANE_GAP / 2 + lane * LANE_GAP;
  ladder.lanes.forEach((name, i) => {
    root.append(svg('text', { x: x(i), y: 20, 'text-anchor': 'middle', class: 'lane-label' }, name));
    root.append(svg('line', { x1: x(i), y1: 30, x2: x(i), y2: height - 10, class: 'lane' }));
  });
  const arrows = [];
  ladder.arrows.forEach((a, k) => {
    const y = TOP + k * ROW + 14;
    const reply = /^\d{3}/.test(a.label);
    const kind = a.otherLeg ? 'leg' : reply ? 'reply' : 'req';
    const classes = ['arrow', reply ? 'reply' : 'request', a.retransmission ? 'retrans' : '', a.otherLeg ? 'other-leg' : ''].filter(Boolean).join(' ');
    const g = svg('g', { class: classes, tabindex: 0, 'data-message': a.message, role: 'button' });
    g.append(svg('rect', { class: 'hit', x: 0, y: y - 16, width, height: ROW - 2 }));
    g.append(svg('text', { x: 6, y: y + 4, class: 'time' }, `${utc(a.microTs, false)}${k > 0 ? ` +${(a.deltaUs / 1e6).toFixed(3)}` : ''}`));
    const label = `${a.label}${a.retransmission ? ' (retrans)' : ''}`;
    if (a.from === a.to) {
      g.append(svg('path', { d: `M${x(a.from)},${y - 6} h30 v12 h-28`, fill: 'none', stroke: 'currentColor', 'marker-end': `url(#head-${kind})` }));
      g.append(svg('text', { x: x(a.from) + 36, y: y + 4, class: 'arrow-label' }, label));
    } else {
      const x1 = x(a.from);
      const x2 = x(a.to);
      g.append(svg('line', { x1, y1: y, x2: x2 + (x2 > x1 ? -1 : 1), y2: y, 'marker-end': `url(#head-${kind})` }));
      g.append(svg('text', { x: (x1 + x2) / 2, y: y - 5, 'text-anchor': 'middle', class: 'arrow-label' }, label));
    }
    const select = () => {
      for (const other of arrows) other.classList.remove('selected');
      g.classList.add('selected');
      onSelect(a.message);
    };
    g.addEventListener('click', select);
    g.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' || e.key === ' ') {
        e.preventDefault();
        select();
      }
    });
    arrows.push(g);
    root.append(g);
  });
  return root;
}

function showMessage(detail, m, i, count) {
  const head = el('div', { class: 'head' },
    el('strong', {}, `${i + 1}/${count} `), `${utc(m.microTs)} UTC`, el('br'),
    `${endpoint(m.sourceIp, m.sourcePort)} → ${endpoint(m.destinationIp, m.destinationPort)}`, el('br'),
    `Call-ID ${m.callid} · ${m.table} #${m.id} · node ${m.node}`);
  const pre = el('pre', { id: 'message' });
  const lines = m.msg.split(/\r?\n/);
  const headerEnd = lines.indexOf('');
  lines.forEach((line, n) => {
    if (n === 0) pre.append(el('span', { class: 'first' }, line));
    else if (headerEnd < 0 || n < headerEnd) {
      const colon = line.indexOf(':');
      if (colon > 0 && !/^\s/.test(line)) pre.append(el('span', { class: 'hname' }, line.slice(0, colon + 1)), line.slice(colon + 1));
      else pre.append(line);
    } else pre.append(line);
    pre.append('\n');
  });
  detail.replaceChildren(head, pre);
}

function sideTable(rows) {
  const table = el('table', { class: 'rows', id: 'side' });
  const head = el('tr');
  for (const h of ['Time (UTC)', 'Kind', 'Source', 'Destination', 'Node', 'Content']) head.append(el('th', {}, h));
  const body = el('tbody');
  for (const r of rows) {
    const tr = el('tr');
    for (const v of [utc(r.microTs), r.kind, endpoint(r.sourceIp, r.sourcePort), endpoint(r.destinationIp, r.destinationPort), r.node, r.msg]) tr.append(el('td', { title: v }, v));
    body.append(tr);
  }
  table.append(el('thead', {}, head), body);
  return el('section', {}, el('h2', {}, 'RTCP, reports and logs of the call'), table);
}

// ---- start ----

function start() {
  const main = document.getElementById('main');
  main.replaceChildren();
  const params = new URLSearchParams(location.search);
  const call = /^\/call\/(.+)$/.exec(location.pathname);
  if (call !== null) {
    let id;
    try {
      id = decodeURIComponent(call[1]);
    } catch {
      id = call[1];
    }
    document.title = `sipcapture: ${id}`;
    callView(main, id, params);
  } else if (params.get('view') === 'live') {
    document.getElementById('nav-live').classList.add('current');
    document.title = 'sipcapture: live';
    liveView(main);
  } else {
    document.getElementById('nav-search').classList.add('current');
    searchView(main, params);
  }
}

start();
