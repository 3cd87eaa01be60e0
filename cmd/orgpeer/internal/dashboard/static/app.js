// The orgpeer demo dashboard: state from /api/stream (server-sent events),
// drawn with plain DOM and inline SVG; changes through POST /api/{action}.
'use strict';

(() => {
  const PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#17becf', '#8c564b', '#e377c2', '#bcbd22', '#7f7f7f'];
  const WINDOW_MS = 120000; // the chart shows the last two minutes
  const SVGNS = 'http://www.w3.org/2000/svg';

  const S = { st: null, connected: false, selected: null, drill: null, queued: false, memo: {} };
  const $ = (id) => document.getElementById(id);

  function setAttrs(e, attrs) {
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'text') e.textContent = v;
      else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v);
    }
    return e;
  }
  const el = (tag, attrs, ...kids) => { const e = setAttrs(document.createElement(tag), attrs); e.append(...kids); return e; };
  const svg = (tag, attrs, ...kids) => { const e = setAttrs(document.createElementNS(SVGNS, tag), attrs); e.append(...kids); return e; };

  const secs = (ms) => (ms / 1000).toFixed(1) + 's';
  const ago = (t) => secs(Math.max(0, Date.now() - new Date(t).getTime())) + ' ago';
  const label = (a) => (a === 'kill' ? 'kill -9' : a);
  const orgColor = (org) => PALETTE[Math.max(0, S.st.orgs.indexOf(org)) % PALETTE.length];
  const lastSample = () => S.st.history[S.st.history.length - 1];
  const num = (n) => Number(n).toLocaleString('en-US');

  // countText is a view row's count as `orgpeer view` prints it: the alive
  // count of an exact row; of an estimate "~1,250 (1,180–1,320, 95 %, 412
  // samples / 60 s, level 3)", with ", census" for a census.
  function countText(o) {
    const e = o.estimate;
    if (o.mode !== 'estimate' || !e) return num(o.alive ?? 0);
    const ms = e.window_ms;
    const win = ms < 10000 && ms % 1000 ? (ms / 1000).toFixed(1) : num(Math.round(ms / 1000));
    return `~${num(Math.round(e.peers))} (${num(Math.floor(e.low))}–${num(Math.ceil(e.high))}, 95 %, ` +
      `${num(e.samples)} sample${e.samples === 1 ? '' : 's'} / ${win} s, level ${e.level}${e.source === 'census' ? ', census' : ''})`;
  }

  // ---- data -------------------------------------------------------------

  function connect() {
    const es = new EventSource('api/stream');
    es.addEventListener('state', (e) => {
      S.st = JSON.parse(e.data);
      S.st.history = S.st.history || [];
      S.st.events = S.st.events || [];
      S.st.edges = S.st.edges || [];
      S.connected = true;
      S.memo = {};
      fillOrgSelect();
      render();
    });
    es.addEventListener('tick', (e) => {
      if (!S.st) return;
      const d = JSON.parse(e.data);
      const h = S.st.history;
      if (h.length && h[h.length - 1].t >= d.sample.t) return; // already in the state
      h.push(d.sample);
      if (h.length > S.st.history_len) h.splice(0, h.length - S.st.history_len);
      S.st.rows = d.rows;
      S.st.members = d.members;
      schedule();
    });
    es.addEventListener('event', (e) => {
      if (!S.st) return;
      const ev = JSON.parse(e.data);
      const i = S.st.events.findIndex((x) => x.id === ev.id);
      if (i >= 0) S.st.events[i] = ev; else S.st.events.push(ev);
      schedule();
    });
    es.addEventListener('topology', (e) => {
      if (!S.st) return;
      S.st.edges = JSON.parse(e.data) || [];
      schedule();
    });
    es.addEventListener('churn', (e) => {
      if (!S.st) return;
      S.st.churn_paused = JSON.parse(e.data).paused;
      schedule();
    });
    es.addEventListener('open', () => { S.connected = true; });
    es.addEventListener('error', () => { S.connected = false; renderStatus(); });
  }

  // schedule draws at most five times a second.
  function schedule() {
    if (S.queued) return;
    S.queued = true;
    setTimeout(() => { S.queued = false; render(); }, 200);
  }

  async function act(action, body) {
    $('msg').textContent = label(action) + '…';
    try {
      const r = await fetch('api/' + action, {
        method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body),
      });
      const j = await r.json();
      if (!r.ok) $('msg').textContent = j.error;
      else if (j.error) $('msg').textContent = `event #${j.id} failed: ${j.error}`;
      else $('msg').textContent = `event #${j.id}: ${label(j.action)} ${j.node}`;
    } catch (err) {
      $('msg').textContent = String(err);
    }
  }

  async function fetchDrill() {
    const name = S.selected;
    if (!name) return;
    try {
      const r = await fetch('api/nodes/' + encodeURIComponent(name));
      const j = await r.json();
      if (S.selected === name) { S.drill = j; renderDrill(); }
    } catch (err) {
      if (S.selected === name) { S.drill = { error: String(err) }; renderDrill(); }
    }
  }

  function select(name) {
    S.selected = name;
    S.drill = null;
    S.memo.nodes = null;
    renderDrill();
    fetchDrill();
    schedule();
  }

  // ---- drawing ----------------------------------------------------------

  function render() {
    if (!S.st) return;
    renderStatus();
    renderCards();
    renderCharts();
    renderTopology();
    renderNodes();
    renderEvents();
  }

  // memo redraws a part only when its content changed, so that buttons are
  // not replaced under the pointer.
  function changed(part, value) {
    const key = JSON.stringify(value);
    if (S.memo[part] === key) return false;
    S.memo[part] = key;
    return true;
  }

  function renderStatus() {
    if (!S.st) return;
    const members = S.st.members || [];
    const up = members.filter((m) => m.up).length;
    const right = (S.st.rows || []).every((r) => r.exact === r.of && r.answered === r.of);
    const conn = S.connected ? 'live' : 'disconnected (the demo has ended?)';
    $('status').textContent = `${up} of ${members.length} processes up · ${S.st.hosts} simulated hosts · churn ${S.st.churn || 'off'}${S.st.churn_paused ? ' (paused)' : ''} · ` +
      `running ${secs(Date.now() - new Date(S.st.started).getTime())} · ${right ? 'every node counts the truth' : 'converging…'} · ${conn}`;
    $('status').className = 'status ' + (right ? 'ok' : 'off');
    const b = $('churn');
    b.hidden = !S.st.churn;
    b.textContent = S.st.churn_paused ? 'resume churn' : 'pause churn';
  }

  function renderCards() {
    const box = $('orgs');
    box.replaceChildren();
    for (const r of S.st.rows || []) {
      const right = r.exact === r.of && r.answered === r.of;
      const est = r.estimates > 0; // some nodes estimate this org: their point estimates, marked ~
      const t = est ? '~' : '';
      const card = el('div', {
        class: 'card ' + (right ? 'ok' : 'off'), 'data-org': r.org, 'data-truth': r.truth,
        'data-min': r.min, 'data-median': r.median, 'data-max': r.max, 'data-exact': r.exact, 'data-of': r.of,
        'data-estimates': r.estimates || 0,
      },
      el('h3', { text: r.org }),
      el('div', { class: 'truth', text: String(r.truth) }),
      el('div', { class: 'label', text: `truth: live peers, on ${r.truth_hosts} host${r.truth_hosts === 1 ? '' : 's'}` }),
      el('div', { class: 'counts', text: r.answered ? `${t}${r.min} / ${t}${r.median} / ${t}${r.max}` : '–' }),
      el('div', { class: 'label', text: est ? `min / median / max counted by the nodes; ${r.estimates} estimate${r.estimates === 1 ? 's' : ''} it (~: point estimates)` : 'min / median / max counted by the nodes' }),
      el('div', { class: 'exact', text: est ? `${r.exact} of ${r.of} nodes right (exact, or the truth within their 95 % interval)` : `${r.exact} of ${r.of} nodes exact` }),
      el('div', { class: 'label', text: `hosts seen ${r.hosts} · last change ${ago(r.changed_at)}` }));
      card.style.borderTopColor = orgColor(r.org);
      box.append(card);
    }
  }

  // stepPath draws values (null: no answer) as a step line.
  function stepPath(points, x, y) {
    let d = '';
    let open = false;
    let lastY = 0;
    for (const [t, v] of points) {
      if (v === null || v === undefined) { open = false; continue; }
      if (!open) d += `M${x(t).toFixed(1)},${y(v).toFixed(1)}`;
      else d += `H${x(t).toFixed(1)}` + (y(v) !== lastY ? `V${y(v).toFixed(1)}` : '');
      open = true;
      lastY = y(v);
    }
    return d;
  }

  function renderCharts() {
    const h = S.st.history;
    const box = $('charts');
    if (!h.length) { box.replaceChildren(el('p', { class: 'muted', text: 'waiting for the first poll…' })); return; }
    // The window grows with the demo from 30 s to two minutes.
    const tEnd = h[h.length - 1].t;
    const span = Math.min(WINDOW_MS, Math.max(30000, tEnd - h[0].t));
    const tStart = tEnd - span;
    const W = 560; const H = 170; const L = 30; const R = 10; const T = 22; const B = 20;
    const x = (t) => L + ((t - tStart) / span) * (W - L - R);
    const nodeOrg = {};
    for (const m of S.st.members || []) nodeOrg[m.name] = m.org;
    const names = Object.keys(nodeOrg);
    const charts = [];
    for (const org of S.st.orgs) {
      let ymax = 1;
      for (const s of h) {
        ymax = Math.max(ymax, s.truth[org] || 0);
        for (const c of Object.values(s.counts)) ymax = Math.max(ymax, c[org] || 0);
      }
      ymax += 1;
      const y = (v) => T + (1 - v / ymax) * (H - T - B);
      const g = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', 'data-org': org, role: 'img', 'aria-label': `alive counts of ${org}` });
      g.append(svg('text', { x: L, y: 14, class: 'title', text: org }));
      const step = Math.max(1, Math.ceil(ymax / 4));
      for (let v = 0; v <= ymax; v += step) {
        g.append(svg('line', { x1: L, x2: W - R, y1: y(v), y2: y(v), stroke: '#eaeef2' }));
        g.append(svg('text', { x: L - 6, y: y(v) + 4, 'text-anchor': 'end', text: String(v) }));
      }
      const every = span > 60000 ? 30 : 10;
      for (let s = 0; s <= span / 1000; s += every) {
        const t = tEnd - s * 1000;
        g.append(svg('text', { x: x(t), y: H - 4, 'text-anchor': 'middle', text: s === 0 ? 'now' : `-${s}s` }));
      }
      for (const ev of S.st.events) {
        const t = new Date(ev.at).getTime();
        if (t < tStart) continue;
        g.append(svg('line', { x1: x(t), x2: x(t), y1: T, y2: H - B, stroke: '#bbb', 'stroke-dasharray': '2,2' }));
        g.append(svg('text', { x: x(t) + 2, y: T + 8, text: `#${ev.id}` }));
      }
      const inWindow = h.filter((s) => s.t >= tStart);
      for (const n of names) {
        const pts = inWindow.map((s) => [s.t, s.counts[n] ? s.counts[n][org] : null]);
        const d = stepPath(pts, x, y);
        if (d) g.append(svg('path', { d, fill: 'none', stroke: orgColor(nodeOrg[n]), 'stroke-width': 1.5, 'stroke-opacity': 0.6, 'data-node': n }));
      }
      const truth = stepPath(inWindow.map((s) => [s.t, s.truth[org] ?? 0]), x, y);
      g.append(svg('path', { d: truth, fill: 'none', stroke: '#111', 'stroke-width': 2.5, 'stroke-dasharray': '6,4', class: 'truth-line' }));
      charts.push(g);
    }
    box.replaceChildren(...charts);
  }

  function renderTopology() {
    const members = [...(S.st.members || [])].sort((a, b) => (a.org === b.org ? a.name.localeCompare(b.name) : S.st.orgs.indexOf(a.org) - S.st.orgs.indexOf(b.org)));
    if (!changed('topo', [members, S.st.edges, S.selected])) return;
    const W = 460; const H = 380; const cx = W / 2; const cy = H / 2 - 8; const rad = Math.min(W, H) / 2 - 44;
    const pos = {};
    members.forEach((m, i) => {
      const a = (2 * Math.PI * i) / Math.max(1, members.length) - Math.PI / 2;
      pos[m.name] = [cx + rad * Math.cos(a), cy + rad * Math.sin(a)];
    });
    const g = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': 'topology' });
    for (const [a, b] of S.st.edges) {
      if (!pos[a] || !pos[b]) continue;
      g.append(svg('line', { x1: pos[a][0], y1: pos[a][1], x2: pos[b][0], y2: pos[b][1], stroke: '#9aa4ad', 'stroke-width': 1.2, class: 'edge' }));
    }
    for (const m of members) {
      const [px, py] = pos[m.name];
      const c = orgColor(m.org);
      const node = svg('g', { class: 'node', 'data-node': m.name, onclick: () => select(m.name) },
        svg('circle', {
          cx: px, cy: py, r: 15, fill: m.up ? c : '#fff', stroke: m.name === S.selected ? '#111' : c,
          'stroke-width': m.name === S.selected ? 3 : 2, 'stroke-dasharray': m.up ? '' : '3,3',
        }),
        svg('text', { x: px, y: py + 30, 'text-anchor': 'middle', text: m.name + (m.up ? '' : ' (down)') }));
      g.append(node);
    }
    let lx = 10;
    for (const org of S.st.orgs) {
      g.append(svg('circle', { cx: lx + 5, cy: H - 10, r: 5, fill: orgColor(org) }));
      g.append(svg('text', { x: lx + 14, y: H - 6, text: org }));
      lx += 24 + org.length * 7;
    }
    g.append(svg('text', { x: W - 10, y: H - 6, 'text-anchor': 'end', text: `${S.st.edges.length} connections` }));
    $('topo').replaceChildren(g);
  }

  function renderNodes() {
    const s = lastSample();
    const counts = s ? s.counts : {};
    const truth = s ? s.truth : {};
    const members = S.st.members || [];
    if (!changed('nodes', [members, counts, truth, S.selected])) return;
    const head = el('tr', {}, el('th', { text: 'node' }), el('th', { text: 'org' }), el('th', { text: 'host' }), el('th', { text: 'pid' }),
      el('th', { text: 'state' }), ...S.st.orgs.map((o) => el('th', { text: o })), el('th', { text: '' }));
    const rows = [head];
    for (const m of members) {
      const c = counts[m.name];
      const state = !m.up ? 'down' : c ? 'up' : 'starting';
      const tr = el('tr', { class: (m.up ? '' : 'down') + (m.name === S.selected ? ' selected' : ''), 'data-node': m.name });
      const sw = el('span', { class: 'swatch' });
      sw.style.background = orgColor(m.org);
      tr.append(el('td', { class: 'name', text: m.name, onclick: () => select(m.name) }), el('td', {}, sw, m.org), el('td', { text: m.host }),
        el('td', { class: 'num', text: m.pid ? String(m.pid) : '' }), el('td', { text: state }));
      for (const o of S.st.orgs) {
        const v = c ? c[o] : null;
        tr.append(el('td', { class: 'num' + (v !== null && v !== truth[o] ? ' wrong' : ''), text: v === null ? '–' : String(v) }));
      }
      const btns = el('td');
      if (m.up) {
        btns.append(el('button', { type: 'button', 'data-action': 'kill', 'data-node': m.name, text: 'kill -9' }), ' ',
          el('button', { type: 'button', 'data-action': 'stop', 'data-node': m.name, text: 'stop' }));
      } else {
        btns.append(el('button', { type: 'button', 'data-action': 'restart', 'data-node': m.name, text: 'restart' }));
      }
      tr.append(btns);
      rows.push(tr);
    }
    $('nodes').replaceChildren(...rows);
  }

  function renderEvents() {
    const evs = [...S.st.events].reverse().slice(0, 50);
    const rows = [el('tr', {}, el('th', { text: '#' }), el('th', { text: 'time' }), el('th', { text: 'change' }), el('th', { text: 'node' }),
      el('th', { text: 'by' }), el('th', { text: 'back to correct counts' }))];
    for (const e of evs) {
      let result = e.recovered_ms != null ? `after ${secs(e.recovered_ms)}` : `counting… ${secs(Date.now() - new Date(e.at).getTime())}`;
      if (e.error) result = `failed: ${e.error}; ${result}`;
      rows.push(el('tr', { 'data-event': e.id },
        el('td', { class: 'num', text: String(e.id) }), el('td', { text: new Date(e.at).toLocaleTimeString() }),
        el('td', { text: label(e.action) }), el('td', { text: `${e.node} (${e.org}, ${e.host})` }), el('td', { text: e.source }),
        el('td', { class: e.recovered_ms != null ? 'ok' : 'off', text: result })));
    }
    if (!evs.length) rows.push(el('tr', {}, el('td', { colspan: 6, class: 'muted', text: 'no events yet: use the buttons, the keys k/s/r/a in the terminal, or --churn' })));
    $('events').replaceChildren(...rows);
  }

  function renderDrill() {
    const box = $('drill');
    if (!S.selected) return;
    const d = S.drill;
    $('drill-title').textContent = `Node view: ${S.selected}`;
    if (!d) { box.replaceChildren(el('p', { class: 'muted', text: 'loading…' })); return; }
    const parts = [];
    const m = d.member || {};
    if (m.name) {
      const p = el('p', {}, `${m.name} · org ${m.org} · ${m.host} · pid ${m.pid || '–'} · ${m.up ? 'up' : 'down'} · peer ${m.peer_id || '?'}`);
      if (m.up && m.api) p.append(' · ', el('a', { href: `http://${m.api}/`, target: '_blank', rel: 'noopener', text: 'its own page' }));
      parts.push(p);
    }
    if (d.error) parts.push(el('p', { class: 'off', text: d.error }));
    if (d.view) {
      const cols = ['org', 'alive', 'connected', 'suspect', 'left', 'hosts'];
      const t = el('table', {}, el('tr', {}, ...cols.map((c) => el('th', { text: c }))));
      let estimates = 0;
      for (const o of [...d.view.orgs, { ...d.view.total, org: 'TOTAL' }]) {
        const est = o.mode === 'estimate' && o.estimate;
        if (est) estimates++;
        t.append(el('tr', { 'data-org': o.org, 'data-mode': est ? 'estimate' : 'exact' }, el('td', { text: o.org + (o.org === d.view.org ? ' (own)' : '') }),
          el('td', est ? { class: 'num estimate', text: countText(o), title: `an estimate; the other columns count only the ${o.alive} members this node heard` }
            : { class: 'num', text: countText(o) }),
          ...cols.slice(2).map((c) => el('td', { class: 'num', text: String(o[c] ?? 0) }))));
      }
      parts.push(t);
      if (estimates) {
        parts.push(el('p', { class: 'muted', text: '~: an estimate from sampled heartbeats, with its 95 % interval, samples, window and level; ' +
          'in its row the other columns count only the members this node heard, and TOTAL counts those too.' }));
      }
    }
    if (d.peers) {
      const t = el('table', {}, el('tr', {}, ...['peer', 'org', 'state', 'direct', 'host', 'learned'].map((c) => el('th', { text: c }))));
      for (const p of d.peers) {
        t.append(el('tr', {}, el('td', { text: p.peer_id.slice(-10) + (p.self ? ' (self)' : '') }), el('td', { text: p.org }),
          el('td', { class: p.state === 'alive' ? 'ok' : 'off', text: p.state }), el('td', { text: p.connected ? 'yes' : '' }),
          el('td', { text: p.host }), el('td', { text: p.learned })));
      }
      parts.push(el('h2', { text: `peers it knows (${d.peers.length})` }), t);
    }
    box.className = '';
    box.replaceChildren(...parts);
  }

  function fillOrgSelect() {
    const sel = $('add-org');
    const cur = sel.value;
    sel.replaceChildren(el('option', { value: '', text: 'the smallest org' }), ...S.st.orgs.map((o) => el('option', { value: o, text: o })));
    sel.value = cur;
  }

  // ---- wiring -----------------------------------------------------------

  document.addEventListener('click', (e) => {
    const b = e.target.closest('button[data-action]');
    if (!b) return;
    const a = b.dataset.action;
    act(a, a === 'add' ? { org: $('add-org').value } : { node: b.dataset.node });
  });
  $('churn').addEventListener('click', async () => {
    const paused = !S.st.churn_paused;
    try {
      const r = await fetch('api/churn', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ paused }) });
      const j = await r.json();
      $('msg').textContent = r.ok ? (j.paused ? 'churn paused' : 'churn resumed') : j.error;
    } catch (err) {
      $('msg').textContent = String(err);
    }
  });
  setInterval(schedule, 1000);       // ages and "counting…" timers
  setInterval(fetchDrill, 2000);     // the selected node's view
  connect();
})();
