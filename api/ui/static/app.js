// The sequencer dashboard. It reads only the API (/api/v1) and the event
// stream; it never computes a schedule itself. Plain DOM, no framework:
// every value from the daemon goes in through textContent, never HTML.
'use strict';

const HOUR = 3600e3;
const state = {
  seqs: new Map(),   // name → SequenceStatus
  groups: new Map(), // "campaign/group" → GroupObservation
  halt: {halted: false},
  synced: false,
  filter: {text: '', phase: ''},
  timeline: {page: 0, size: 50},
  cache: new Map(), // "history:name" / "plan:name" → {at, value}
};
const PHASES = ['Waiting', 'Starting', 'Running', 'Sleeping', 'Paused', 'Suspended', 'Completed', 'Failed', 'Deleting'];
// Conditions in plain words, with how worried the operator should be.
const CONDITIONS = {
  SpecInvalid: ['warn', 'Spec file is invalid: the last valid version keeps running'],
  Conflict: ['bad', 'Conflict over a campaign group'],
  CountersUnavailable: ['warn', 'No dial counters on this OCS link: contact/dial stops cannot fire'],
  Stalled: ['bad', 'Stalled: it cannot proceed without an operator'],
  Reconciling: ['info', 'Reconciling'],
};

// ---- small helpers ----

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const k of kids.flat()) {
    if (k !== undefined && k !== null && k !== false) el.append(k instanceof Node ? k : String(k));
  }
  return el;
}

function svg(tag, attrs, ...kids) {
  const el = document.createElementNS('http://www.w3.org/2000/svg', tag);
  for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
  for (const k of kids) el.append(k instanceof Node ? k : String(k));
  return el;
}

const $ = (sel) => document.querySelector(sel);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const viewerZone = Intl.DateTimeFormat().resolvedOptions().timeZone;

// One formatter per zone: building one per call is what makes a long
// table slow to draw.
const formatters = new Map();
function fmtTime(t, zone) {
  if (!t) return '';
  const key = zone || '';
  if (!formatters.has(key)) {
    formatters.set(key, new Intl.DateTimeFormat(undefined, {
      timeZone: zone || undefined, weekday: 'short', month: 'short', day: 'numeric',
      hour: '2-digit', minute: '2-digit', timeZoneName: 'short',
    }));
  }
  return formatters.get(key).format(new Date(t));
}

function fmtRelative(t) {
  const d = new Date(t) - Date.now();
  const m = Math.round(Math.abs(d) / 60e3);
  if (m < 1) return 'now';
  const s = m < 90 ? m + ' min' : Math.round(m / 60) + ' h';
  return d >= 0 ? 'in ' + s : s + ' ago';
}

function timeEl(t) {
  return h('time', {datetime: t, title: fmtTime(t)}, fmtRelative(t));
}

// History needs the order of events seconds apart: local time to the second.
const stampFormat = new Intl.DateTimeFormat(undefined, {month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit'});
function stampEl(t) {
  return h('time', {title: fmtTime(t)}, stampFormat.format(new Date(t)));
}

function phaseBadge(p) {
  return h('span', {class: 'phase phase-' + String(p).toLowerCase()}, p);
}

// ---- the API ----

const token = () => sessionStorage.getItem('sequencer-token') || '';
const by = () => sessionStorage.getItem('sequencer-by') || '';

function headers(json) {
  const hd = {};
  if (token()) hd.Authorization = 'Bearer ' + token();
  // Every state change is JSON: the API refuses anything else, and only
  // JSON needs a CORS preflight, which it never grants.
  if (json) hd['Content-Type'] = 'application/json';
  return hd;
}

class APIError extends Error {
  constructor(status, msg) { super(msg); this.status = status; }
}

async function api(method, path, body) {
  const res = await fetch(path, {
    method, headers: headers(method !== 'GET'), cache: 'no-store',
    body: method === 'GET' ? undefined : JSON.stringify(body || {}),
  });
  const data = await res.json().catch(() => ({}));
  if (res.status === 401) askToken('The daemon refused the request: it needs a valid API token.');
  if (!res.ok) throw new APIError(res.status, (data.error && data.error.message) || res.statusText);
  return data;
}

async function cached(key, maxAge, load) {
  const c = state.cache.get(key);
  if (c && Date.now() - c.at < maxAge) return c.value;
  const value = await load();
  state.cache.set(key, {at: Date.now(), value});
  return value;
}

function history(name, since, limit) {
  return api('GET', `/api/v1/sequences/${encodeURIComponent(name)}/history?since=${since}&limit=${limit}`)
    .then((d) => d.events || []);
}

// plan answers null when the daemon has no projection (404).
function plan(name) {
  return api('GET', `/api/v1/sequences/${encodeURIComponent(name)}/plan`)
    .then((d) => d.events || [])
    .catch((e) => { if (e.status === 404) return null; throw e; });
}

// ---- the event stream ----
// fetch rather than EventSource: EventSource cannot send the bearer
// header. Reconnecting is ours to do, after the server's retry: delay.

async function stream() {
  let retry = 3000;
  for (;;) {
    let pending = null;
    try {
      const res = await fetch('/api/v1/events', {headers: headers(false), cache: 'no-store'});
      if (res.status === 401) {
        askToken('The daemon needs its API token to show anything.');
        await sleep(retry);
        continue;
      }
      if (!res.ok) throw new Error('events: HTTP ' + res.status);
      // Every connection starts with the whole state: collect it, then
      // swap it in, so that what was deleted meanwhile disappears.
      pending = {seqs: new Map(), groups: new Map()};
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const {value, done} = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          let name = 'message', data = '';
          for (const line of block.split('\n')) {
            if (line.startsWith('retry:')) retry = Number(line.slice(6)) || retry;
            else if (line.startsWith('event:')) name = line.slice(6).trim();
            else if (line.startsWith('data:')) data += line.slice(5).trim();
          }
          if (data) pending = onEvent(name, JSON.parse(data), pending);
        }
      }
    } catch (e) {
      console.warn(e);
    }
    setLive('reconnecting…', 'bad');
    await sleep(retry);
  }
}

function onEvent(name, data, pending) {
  const seqs = pending ? pending.seqs : state.seqs;
  const groups = pending ? pending.groups : state.groups;
  switch (name) {
  case 'sequence': seqs.set(data.name, data); break;
  case 'sequence-deleted': seqs.delete(data.name); break;
  case 'campaign-group': groups.set(data.campaignDBID + '/' + data.groupDBID, data); break;
  case 'halt': state.halt = data; renderHalt(); break;
  case 'synced':
    state.seqs = pending.seqs;
    state.groups = pending.groups;
    state.synced = true;
    setLive('live', 'ok');
    pending = null;
    break;
  }
  if (!pending) scheduleRender(name);
  return pending;
}

function setLive(text, cls) {
  const el = $('#live');
  el.textContent = text;
  el.className = 'live ' + (cls || '');
}

// ---- token ----

function askToken(why) {
  $('#token-why').textContent = why || 'API token for this daemon.';
  const form = $('#token-form');
  if (!form.hidden) return; // already asking: leave the cursor where it is
  form.hidden = false;
  $('#by-input').value = by();
  $('#token-input').focus();
}

function setupToken() {
  $('#token-button').addEventListener('click', () => askToken());
  $('#token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    sessionStorage.setItem('sequencer-token', $('#token-input').value.trim());
    sessionStorage.setItem('sequencer-by', $('#by-input').value.trim());
    $('#token-input').value = '';
    $('#token-form').hidden = true;
    route();
  });
}

// ---- confirm ----

function confirmAction(text) {
  const dlg = $('#confirm');
  $('#confirm-text').textContent = text;
  return new Promise((resolve) => {
    const done = (ok) => () => {
      dlg.close();
      $('#confirm-ok').onclick = $('#confirm-cancel').onclick = dlg.oncancel = null;
      resolve(ok);
    };
    $('#confirm-ok').onclick = done(true);
    $('#confirm-cancel').onclick = done(false);
    dlg.oncancel = done(false);
    dlg.showModal();
    $('#confirm-cancel').focus();
  });
}

// ---- halt banner ----

function renderHalt() {
  const el = $('#halt');
  const hs = state.halt;
  el.hidden = !hs.halted;
  if (!hs.halted) return;
  const who = hs.who ? ' by ' + hs.who : '';
  const files = hs.specs && hs.specs.length ? ' Halt spec files: ' + hs.specs.join(', ') + '.' : '';
  el.replaceChildren(h('strong', {}, 'DIALING HALTED'), `${who}${hs.reason ? ': ' + hs.reason : ''}`,
    hs.since ? h('span', {}, ' since ', timeEl(hs.since)) : '', files);
}

// ---- rendering ----

let renderQueued = false;
let view = {update() {}};

function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => { renderQueued = false; view.update(); });
}

function route() {
  const hash = location.hash.slice(1) || '/';
  const main = $('#main');
  for (const a of document.querySelectorAll('nav a')) {
    a.toggleAttribute('aria-current', a.getAttribute('href') === '#' + hash.split('/').slice(0, 2).join('/'));
  }
  let m;
  if ((m = hash.match(/^\/seq\/(.+)$/))) view = sequenceView(decodeURIComponent(m[1]));
  else if (hash === '/timeline') view = timelineView();
  else if (hash === '/groups') view = groupsView();
  else if (hash === '/dnc') view = dncView();
  else view = overviewView();
  main.replaceChildren(view.el);
  main.dataset.view = view.name;
  view.update();
}

function visibleSeqs() {
  const f = state.filter;
  const text = f.text.trim().toLowerCase();
  return [...state.seqs.values()].filter((s) => {
    if (f.phase && s.phase !== f.phase) return false;
    if (!text) return true;
    // key=value matches a label exactly; anything else the name or a label.
    const labels = s.labels || {};
    const eq = text.indexOf('=');
    if (eq > 0) return String(labels[text.slice(0, eq).trim()] || '').toLowerCase() === text.slice(eq + 1).trim();
    return s.name.toLowerCase().includes(text) ||
      Object.entries(labels).some(([k, v]) => (k + '=' + v).toLowerCase().includes(text));
  }).sort((a, b) => a.name.localeCompare(b.name));
}

function filterControls(onChange) {
  const text = h('input', {id: 'filter-text', type: 'search', value: state.filter.text,
    placeholder: 'name or label=value', oninput: (e) => { state.filter.text = e.target.value; onChange(); }});
  const phase = h('select', {id: 'filter-phase', onchange: (e) => { state.filter.phase = e.target.value; onChange(); }},
    h('option', {value: ''}, 'every phase'), PHASES.map((p) => h('option', {value: p, selected: state.filter.phase === p}, p)));
  return h('div', {class: 'filters'},
    h('label', {for: 'filter-text'}, 'Filter'), text,
    h('label', {for: 'filter-phase'}, 'Phase'), phase);
}

// The status does not say which campaign group the current item uses:
// the group the sequence claims that OCS reported last is it, while the
// item holds one. Before the load and after the unload there is none.
const HOLDING = new Set(['loaded', 'starting', 'dialing', 'stopping', 'paused', 'unloading', 'draining']);

function groupsBySequence() {
  const out = new Map();
  for (const g of state.groups.values()) {
    const prev = out.get(g.sequence);
    if (g.sequence && (!prev || g.at > prev.at)) out.set(g.sequence, g);
  }
  for (const [name] of out) {
    const s = state.seqs.get(name);
    if (!s || !HOLDING.has(s.itemState)) out.delete(name);
  }
  return out;
}

function groupOf(s) {
  return groupsBySequence().get(s.name) || null;
}

function conditionList(s) {
  const out = [];
  for (const c of s.conditions || []) {
    if (c.type === 'Ready') {
      if (!c.status) out.push(['bad', 'Not ready', c]);
      continue;
    }
    if (!c.status) continue;
    const [cls, words] = CONDITIONS[c.type] || ['info', c.type];
    out.push([cls, words, c]);
  }
  return h('ul', {class: 'conditions'}, out.map(([cls, words, c]) =>
    h('li', {class: 'cond cond-' + cls, title: c.type + (c.reason ? ' (' + c.reason + ')' : '')},
      words, c.message ? ': ' + c.message : '')));
}

function overviewView() {
  const counts = h('div', {class: 'counts', role: 'group', 'aria-label': 'Sequences by phase'});
  const body = h('tbody');
  const table = h('table', {id: 'seq-table', class: 'seqs'},
    h('caption', {class: 'sr-only'}, 'Sequences'),
    h('thead', {}, h('tr', {},
      ['Sequence', 'Phase', 'Current item', 'Dials / contacts', 'Next action', 'Conditions', 'Suspended'].map((t) => h('th', {scope: 'col'}, t)))),
    body);
  const empty = h('p', {class: 'empty'});
  const el = h('section', {'aria-labelledby': 'overview-h'},
    h('h2', {id: 'overview-h'}, 'Sequences'), counts, filterControls(() => update()), empty, table);
  // Rows are rebuilt only when their sequence changes, and the body only
  // when the list does, so that a live update does not take the keyboard
  // focus away from the row the operator is on.
  const rowCache = new Map();
  let shown = '';
  function row(s, g) {
    return h('tr', {'data-name': s.name},
      h('th', {scope: 'row'}, h('a', {href: '#/seq/' + encodeURIComponent(s.name)}, s.name)),
      h('td', {'data-label': 'Phase'}, phaseBadge(s.phase)),
      h('td', {'data-label': 'Item'}, s.item ? [s.item, s.itemState ? h('span', {class: 'muted'}, ' (' + s.itemState + ')') : ''] : '—'),
      h('td', {class: 'num', 'data-label': 'Dials / contacts'}, g ? `${g.dials} / ${g.contacts}` : '—'),
      h('td', {'data-label': 'Next'}, s.nextAction ? [s.nextAction, ' ', s.nextActionAt ? timeEl(s.nextActionAt) : ''] : '—'),
      h('td', {}, conditionList(s)),
      h('td', {}, s.suspended ? 'suspended by ' + (s.suspendedBy || 'the spec') : ''));
  }
  function update() {
    const perPhase = {};
    for (const s of state.seqs.values()) perPhase[s.phase] = (perPhase[s.phase] || 0) + 1;
    counts.replaceChildren(...PHASES.filter((p) => perPhase[p]).map((p) =>
      h('button', {type: 'button', class: 'count phase-' + p.toLowerCase(), 'aria-pressed': String(state.filter.phase === p), 'data-phase': p,
        onclick: () => {
          state.filter.phase = state.filter.phase === p ? '' : p;
          $('#filter-phase').value = state.filter.phase;
          update();
          counts.querySelector(`[data-phase="${p}"]`)?.focus(); // the buttons were redrawn
        }},
      `${p} ${perPhase[p]}`)));
    const groups = groupsBySequence();
    const list = visibleSeqs();
    const rows = list.map((s) => {
      const g = groups.get(s.name);
      const key = JSON.stringify([s, g]);
      let c = rowCache.get(s.name);
      if (!c || c.key !== key) {
        const tr = row(s, g);
        if (c && c.tr.isConnected) c.tr.replaceWith(tr);
        c = {key, tr};
        rowCache.set(s.name, c);
      }
      return c.tr;
    });
    const names = list.map((s) => s.name).join('\n');
    if (names !== shown || body.children.length !== rows.length) {
      body.replaceChildren(...rows);
      shown = names;
    }
    table.dataset.rows = rows.length;
    const noLabels = state.filter.text.includes('=') && ![...state.seqs.values()].some((s) => s.labels);
    empty.textContent = !state.synced ? 'Loading…' : rows.length ? '' :
      noLabels ? 'No sequence matches: this daemon does not publish labels, so label=value matches nothing.' : 'No sequence matches.';
    // For the benchmark and the browser's performance panel.
    if (state.synced) performance.mark('sequences-rendered', {detail: rows.length});
  }
  return {el, name: 'overview', update};
}

// ---- timeline ----

// bars turns history (past) and a plan (future) into bars and shades.
function bars(events, planned, now) {
  const out = [];
  const open = new Map();
  for (const e of [...events].sort((a, b) => a.at.localeCompare(b.at))) {
    const key = e.run + '/' + e.item;
    if (e.kind === 'item-start') open.set(key, e);
    if (e.kind === 'item-end' && open.has(key)) {
      const s = open.get(key);
      open.delete(key);
      out.push({item: e.item, from: +new Date(s.at), to: +new Date(e.at), cls: 'past', why: e.message});
    }
  }
  for (const s of open.values()) out.push({item: s.item, from: +new Date(s.at), to: now, cls: 'current', why: 'dialing now'});
  if (!planned) return out;
  const starts = new Map();
  let paused = null;
  for (const e of planned) {
    const at = +new Date(e.at);
    if (e.action === 'item-start') starts.set(e.item, e);
    else if (e.action === 'item-stop' && starts.has(e.item)) {
      const s = starts.get(e.item);
      starts.delete(e.item);
      out.push({item: e.item, from: +new Date(s.at), to: at, cls: s.estimate || e.estimate ? 'estimate' : 'planned',
        why: [s.bound, e.reason].filter(Boolean).join('; ')});
    } else if (e.action === 'window-pause') paused = at;
    else if (e.action === 'window-resume' && paused !== null) {
      out.push({from: paused, to: at, cls: 'closed', why: 'outside the calling window'});
      paused = null;
    }
  }
  // An item only a count or depletion can end has no projected end.
  for (const s of starts.values()) {
    out.push({item: s.item, from: +new Date(s.at), to: null, cls: 'estimate', why: [s.bound, s.reason].filter(Boolean).join('; ')});
  }
  return out;
}

function timelineView() {
  const chart = h('div', {class: 'chart'});
  const pager = h('div', {class: 'pager'});
  const note = h('p', {class: 'hint'});
  const size = h('select', {id: 'page-size', onchange: (e) => { state.timeline.size = +e.target.value; state.timeline.page = 0; draw(); }},
    [25, 50, 100, 200].map((n) => h('option', {value: n, selected: state.timeline.size === n}, n)));
  const el = h('section', {'aria-labelledby': 'timeline-h'},
    h('h2', {id: 'timeline-h'}, 'Timeline: the last 24 h and the next 24 h'),
    filterControls(() => { state.timeline.page = 0; draw(); }),
    h('div', {class: 'filters'}, h('label', {for: 'page-size'}, 'Rows per page'), size),
    pager, note, legend(), chart);
  let last = 0;
  async function draw() {
    last = Date.now();
    const all = visibleSeqs();
    const pages = Math.max(1, Math.ceil(all.length / state.timeline.size));
    state.timeline.page = Math.min(state.timeline.page, pages - 1);
    const rows = all.slice(state.timeline.page * state.timeline.size, (state.timeline.page + 1) * state.timeline.size);
    pager.replaceChildren(
      h('button', {type: 'button', disabled: state.timeline.page === 0, onclick: () => { state.timeline.page--; draw(); }}, '← Previous'),
      ` page ${state.timeline.page + 1} of ${pages} (${all.length} sequences) `,
      h('button', {type: 'button', disabled: state.timeline.page >= pages - 1, onclick: () => { state.timeline.page++; draw(); }}, 'Next →'));
    const data = await Promise.all(rows.map(async (s) => {
      const [evs, pl] = await Promise.all([
        cached('history:' + s.name, 15e3, () => history(s.name, '48h', 2000)).catch(() => []),
        cached('plan:' + s.name, 60e3, () => plan(s.name)).catch(() => null)]);
      return {s, evs, pl};
    }));
    const noPlan = data.filter((d) => d.pl === null).map((d) => d.s.name);
    note.textContent = `Times in your zone (${viewerZone}); hover a bar for its local times and reason. ` +
      (noPlan.length ? `No projection for ${noPlan.length === data.length ? 'any sequence on this page' : noPlan.join(', ')}: past items only.` : '');
    chart.replaceChildren(gantt(data));
  }
  return {el, name: 'timeline', update() { if (Date.now() - last > 5e3) draw(); }};
}

function legend() {
  const item = (cls, text) => h('li', {}, h('span', {class: 'swatch ' + cls, 'aria-hidden': 'true'}), text);
  return h('ul', {class: 'legend', 'aria-label': 'Legend'},
    item('past', 'ran'), item('current', 'running now'), item('planned', 'planned'),
    item('estimate', 'estimate (end unknown or approximate)'), item('closed', 'outside the calling window'));
}

function gantt(data) {
  const now = Date.now();
  const from = now - 24 * HOUR, to = now + 24 * HOUR;
  const labelW = 170, width = Math.max(600, ($('#main').clientWidth || 900) - 20), rowH = 24;
  const x = (t) => labelW + (Math.min(Math.max(t, from), to) - from) / (to - from) * (width - labelW);
  const height = 30 + data.length * rowH;
  const root = svg('svg', {width, height, role: 'img', id: 'gantt', 'aria-label': `Timeline of ${data.length} sequences`});
  for (let t = Math.ceil(from / (3 * HOUR)) * 3 * HOUR; t <= to; t += 3 * HOUR) {
    root.append(svg('line', {x1: x(t), x2: x(t), y1: 18, y2: height, class: 'tick'}),
      svg('text', {x: x(t) + 2, y: 12, class: 'axis'}, new Date(t).toLocaleTimeString(undefined, {hour: '2-digit', minute: '2-digit'})));
  }
  data.forEach(({s, evs, pl}, i) => {
    const y = 22 + i * rowH;
    const zone = s.timeZone || (pl && pl[0] && pl[0].timeZone) || '';
    const name = svg('a', {href: '#/seq/' + encodeURIComponent(s.name)}, svg('text', {x: 4, y: y + 15, class: 'name'}, s.name));
    root.append(svg('rect', {x: 0, y, width, height: rowH, class: i % 2 ? 'row odd' : 'row'}), name);
    for (const b of bars(evs, pl, now)) {
      if ((b.to !== null && b.to < from) || b.from > to) continue;
      const x1 = x(b.from), x2 = b.to === null ? x(to) : Math.max(x(b.to), x1 + 2);
      const tip = (b.item ? b.item + ': ' : '') + fmtTime(b.from) + ' → ' + (b.to === null ? 'end unknown' : fmtTime(b.to)) +
        (zone ? ` (${fmtTime(b.from, zone)} in ${zone})` : '') + (b.why ? '\n' + b.why : '');
      const bar = svg('rect', {x: x1, y: b.cls === 'closed' ? y : y + 4, width: x2 - x1, height: b.cls === 'closed' ? rowH : rowH - 8,
        class: 'bar ' + b.cls, 'data-item': b.item || '', 'data-from': new Date(b.from).toISOString()}, svg('title', {}, tip));
      root.append(bar);
    }
  });
  root.append(svg('line', {x1: x(now), x2: x(now), y1: 14, y2: height, class: 'now'}),
    svg('text', {x: x(now) + 3, y: 26, class: 'now-label'}, 'now'));
  return root;
}

// ---- one sequence ----

function sequenceView(name) {
  const summary = h('dl', {class: 'summary'});
  const items = h('tbody');
  const histBody = h('tbody');
  const requests = h('div');
  const message = h('p', {role: 'status', class: 'message'});
  const search = h('input', {id: 'history-search', type: 'search', placeholder: 'kind, item or words', oninput: () => drawHistory()});
  const reason = h('input', {id: 'suspend-reason', type: 'text', required: true});
  const dur = h('input', {id: 'suspend-for', type: 'text', placeholder: '2h (empty: until resumed)', pattern: '^$|^[0-9]+(\\.[0-9]+)?(ms|s|m|h)([0-9]+(ms|s|m|h))*$'});
  let events = [];
  let lastStatus = '';
  let lastLoad = 0;

  async function act(what, path, body, text) {
    if (!(await confirmAction(text))) return;
    try {
      await api('POST', `/api/v1/sequences/${encodeURIComponent(name)}/${path}`, Object.assign(by() ? {by: by()} : {}, body));
      message.textContent = what + ': done.';
      state.cache.delete('history:' + name);
      reloadSoon();
    } catch (e) {
      message.textContent = what + ' failed: ' + e.message;
    }
  }
  const suspendForm = h('form', {class: 'action', id: 'suspend-form', onsubmit: (e) => {
    e.preventDefault();
    const d = dur.value.trim();
    act('Suspend', 'suspend', {reason: reason.value.trim(), for: d || undefined},
      `Suspend ${name}${d ? ' for ' + d : ' until resumed'} because "${reason.value.trim()}"?`);
  }},
  h('label', {for: 'suspend-reason'}, 'Reason'), reason,
  h('label', {for: 'suspend-for'}, 'For'), dur,
  h('button', {type: 'submit'}, 'Suspend…'));
  const buttons = h('div', {class: 'buttons'},
    h('button', {type: 'button', id: 'resume', onclick: () => act('Resume', 'resume', {}, `Resume ${name}?`)}, 'Resume…'),
    h('button', {type: 'button', id: 'reconcile', onclick: () => act('Reconcile', 'reconcile', undefined, `Reconcile ${name} now (clears its backoff)?`)}, 'Reconcile now…'));

  const el = h('section', {'aria-labelledby': 'seq-h'},
    h('h2', {id: 'seq-h'}, name), summary,
    h('h3', {}, 'Actions'), suspendForm, buttons, message,
    h('h3', {}, 'Items of the current run'),
    h('table', {class: 'items'}, h('thead', {}, h('tr', {}, ['Item', 'Started', 'Ended', 'Dials', 'Contacts', 'Result'].map((t) => h('th', {scope: 'col'}, t)))), items),
    h('h3', {}, 'OCS requests by spec version'), requests,
    h('h3', {}, 'History (last 30 days)'),
    h('div', {class: 'filters'}, h('label', {for: 'history-search'}, 'Search'), search),
    h('table', {class: 'history', id: 'history'}, h('thead', {}, h('tr', {}, ['When', 'Kind', 'Item', 'What'].map((t) => h('th', {scope: 'col'}, t)))), histBody));

  // At most one history fetch every 2 s, however often the status moves;
  // history is written a moment after the status, so a change always gets
  // one fetch after it.
  let reloadTimer = null;
  function reloadSoon() {
    if (reloadTimer) return;
    reloadTimer = setTimeout(() => { reloadTimer = null; loadHistory(); }, Math.max(500, 2e3 - (Date.now() - lastLoad)));
  }
  async function loadHistory() {
    lastLoad = Date.now();
    try {
      events = await history(name, '720h', 2000);
    } catch (e) {
      message.textContent = 'History: ' + e.message;
      return;
    }
    drawHistory();
    drawItems();
    drawRequests();
  }
  function drawHistory() {
    const q = search.value.trim().toLowerCase();
    const rows = events.filter((e) => !q || [e.kind, e.item, e.message, e.action].join(' ').toLowerCase().includes(q))
      .slice().reverse().map((e) => h('tr', {}, h('td', {}, stampEl(e.at)), h('td', {}, e.kind), h('td', {}, e.item || ''), h('td', {}, e.message)));
    histBody.replaceChildren(...rows);
  }
  function drawItems() {
    const s = state.seqs.get(name);
    const run = s && s.run;
    const rows = [];
    const open = new Map();
    for (const e of events) {
      if (!run || e.run !== run) continue;
      if (e.kind === 'item-start') open.set(e.item, e);
      if (e.kind === 'item-end') {
        const m = /\((\d+) dials, (\d+) contacts/.exec(e.message) || [];
        rows.push([e.item, open.get(e.item), e, m[1], m[2], e.message.replace(/^item \S+ /, '')]);
        open.delete(e.item);
      }
    }
    for (const [item, st] of open) {
      const g = s && s.item === item ? groupOf(s) : null;
      rows.push([item, st, null, g ? g.dials : '', g ? g.contacts : '', s && s.itemState]);
    }
    items.replaceChildren(...rows.map(([item, st, end, d, c, res]) => h('tr', {},
      h('th', {scope: 'row'}, item), h('td', {}, st ? timeEl(st.at) : ''), h('td', {}, end ? timeEl(end.at) : ''),
      h('td', {class: 'num'}, d), h('td', {class: 'num'}, c), h('td', {}, res || ''))));
  }
  function drawRequests() {
    const perHash = new Map();
    // A request that carries no hash was caused by the spec version the
    // history last named (a run's start, a spec change) before it.
    let current = '';
    for (const e of events) {
      if (e.kind !== 'request') {
        current = e.specHash || current;
        continue;
      }
      const k = e.specHash || current || 'unknown';
      if (!perHash.has(k)) perHash.set(k, []);
      perHash.get(k).push(e);
    }
    requests.replaceChildren(...(perHash.size ? [...perHash].map(([hash, evs]) => h('details', {},
      h('summary', {}, `spec ${hash.slice(0, 12)}: ${evs.length} request${evs.length === 1 ? '' : 's'}`),
      h('ul', {}, evs.map((e) => h('li', {}, timeEl(e.at), ' ', e.item ? e.item + ': ' : '', e.message))))) : [h('p', {class: 'muted'}, 'No OCS request in the last 30 days.')]));
  }
  function update() {
    const s = state.seqs.get(name);
    if (!s) {
      summary.replaceChildren(h('dt', {}, 'Status'), h('dd', {}, state.synced ? 'No such sequence (deleted?)' : 'Loading…'));
      return;
    }
    const override = events.filter((e) => e.kind === 'override' || e.kind === 'halt').pop();
    const row = (k, ...v) => [h('dt', {}, k), h('dd', {}, ...v)];
    summary.replaceChildren(...[
      row('Phase', phaseBadge(s.phase)),
      row('Spec file', s.file || '—'),
      row('Generation', String(s.observedGeneration)),
      row('Spec hash', h('code', {}, s.specHash || '—')),
      row('Engine', s.engine),
      row('Run', s.run || '—'),
      row('Current item', s.item ? `${s.item} (#${s.itemIndex + 1}, ${s.itemState || ''})` : '—'),
      row('Next action', s.nextAction ? [s.nextAction, ' ', s.nextActionAt ? timeEl(s.nextActionAt) : ''] : '—'),
      row('Suspended', s.suspended ? `yes, by ${s.suspendedBy || 'the spec'}` + (override && /^suspended|halted/.test(override.message) ? ' (' + override.message + ')' : '') : 'no'),
      row('Conditions', conditionList(s)),
    ].flat());
    const now = JSON.stringify(s);
    if (lastStatus && now !== lastStatus) reloadSoon();
    lastStatus = now;
    drawItems();
  }
  loadHistory();
  return {el, name: 'sequence', update};
}

// ---- campaign groups, DNC lists ----

function groupsView() {
  const body = h('tbody');
  const el = h('section', {'aria-labelledby': 'groups-h'}, h('h2', {id: 'groups-h'}, 'Campaign groups'),
    h('table', {id: 'groups'}, h('thead', {}, h('tr', {}, ['Campaign', 'Group', 'Status', 'Dial mode', 'Dials', 'Contacts', 'Records left', 'Sequence', 'Reported'].map((t) => h('th', {scope: 'col'}, t)))), body));
  function update() {
    body.replaceChildren(...[...state.groups.values()].map((g) => h('tr', {},
      h('td', {class: 'num'}, g.campaignDBID), h('td', {class: 'num'}, g.groupDBID), h('td', {}, g.status), h('td', {}, g.dialMode || ''),
      h('td', {class: 'num'}, g.dials), h('td', {class: 'num'}, g.contacts), h('td', {class: 'num'}, g.recordsLeft),
      h('td', {}, g.sequence ? h('a', {href: '#/seq/' + encodeURIComponent(g.sequence)}, g.sequence) : ''), h('td', {}, timeEl(g.at)))));
  }
  return {el, name: 'groups', update};
}

function dncView() {
  const body = h('tbody');
  const msg = h('p', {role: 'status'});
  const el = h('section', {'aria-labelledby': 'dnc-h'}, h('h2', {id: 'dnc-h'}, 'Do-Not-Call lists'), msg,
    h('table', {id: 'dnc'}, h('thead', {}, h('tr', {}, ['List', 'Target OCS', 'Entries', 'Processed', 'Pending', 'Refused', 'Removed', 'Notes'].map((t) => h('th', {scope: 'col'}, t)))), body));
  let last = 0;
  async function update() {
    if (Date.now() - last < 5e3) return;
    last = Date.now();
    try {
      const d = await api('GET', '/api/v1/dnc-lists');
      const lists = d.lists || d.dncLists || [];
      msg.textContent = lists.length ? '' : 'No DoNotCallList spec.';
      body.replaceChildren(...lists.map((l) => h('tr', {},
        h('th', {scope: 'row'}, l.name), h('td', {}, l.targetAppDBID || 'every OCS'), h('td', {class: 'num'}, l.entries),
        h('td', {class: 'num'}, l.processed), h('td', {class: 'num'}, l.pending), h('td', {class: 'num'}, l.failed),
        h('td', {class: 'num'}, l.removed), h('td', {}, [l.note, ...(l.problems || [])].filter(Boolean).join('; ')))));
    } catch (e) {
      msg.textContent = 'DNC lists: ' + e.message;
    }
  }
  return {el, name: 'dnc', update};
}

// ---- start ----

setupToken();
// A new view takes the focus, so that a keyboard or screen reader user
// lands on it rather than on the link they left.
window.addEventListener('hashchange', () => { route(); $('#main').focus(); });
route();
stream();
// Relative times move on without a redraw; the timeline's "now" with one.
setInterval(() => {
  for (const t of document.querySelectorAll('time[datetime]')) t.textContent = fmtRelative(t.getAttribute('datetime'));
  if (view.name === 'timeline') scheduleRender();
}, 30e3);
