// The rkube dashboard: one page, plain JavaScript, no build step. Every call goes to the
// Kubernetes API on this page's own origin (/api, /apis), so the proxy that served the page
// (`rkube dashboard` or `kubectl proxy`) decides who acts: the user.
'use strict';

// ---------- small DOM helpers (text is always set as text, never parsed as HTML) ----------
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}
const $ = (sel) => document.querySelector(sel);
const main = () => $('#main');
function toast(text, bad) {
  const t = el('div', { class: bad ? 'bad' : '' }, text);
  $('#toast').append(t);
  setTimeout(() => t.remove(), bad ? 8000 : 3000);
}

// ---------- the API ----------
class ApiError extends Error {
  constructor(code, status, text) {
    super((status && status.message) || text || `HTTP ${code}`);
    this.code = code;
    this.reason = status && status.reason;
  }
}
async function api(path, { method = 'GET', body, type, accept, text, signal } = {}) {
  const headers = { Accept: accept || 'application/json' };
  if (body !== undefined) headers['Content-Type'] = type || 'application/json';
  const init = {
    method, headers, signal,
    body: body === undefined ? undefined : (typeof body === 'string' ? body : JSON.stringify(body)),
  };
  let r;
  for (let attempt = 0; ; attempt++) {
    try { r = await fetch(path, init); break; } catch (e) {
      // Reads are retried over a dropped connection (a proxy restart, a network change);
      // writes are not, since they may have happened.
      if (method !== 'GET' || attempt >= 3 || (signal && signal.aborted)) throw e;
      await sleep(200 * (attempt + 1));
    }
  }
  const raw = await r.text();
  if (!r.ok) {
    let status = null;
    try { status = JSON.parse(raw); } catch (_) { /* not a Status */ }
    throw new ApiError(r.status, status, raw.trim());
  }
  if (text) return raw;
  return raw ? JSON.parse(raw) : null;
}
const TABLE = 'application/json;as=Table;v=v1;g=meta.k8s.io, application/json';

// A resource kind from discovery.
function rpath(r, ns, name, sub) {
  let p = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
  if (r.namespaced && ns) p += `/namespaces/${encodeURIComponent(ns)}`;
  p += `/${r.name}`;
  if (name) p += `/${encodeURIComponent(name)}`;
  if (sub) p += `/${sub}`;
  return p;
}
const core = (name, kind, namespaced = true) => ({ group: '', version: 'v1', name, kind, namespaced });
const apps = (name, kind) => ({ group: 'apps', version: 'v1', name, kind, namespaced: true });
const K = {
  pods: core('pods', 'Pod'), services: core('services', 'Service'), events: core('events', 'Event'),
  nodes: core('nodes', 'Node', false), namespaces: core('namespaces', 'Namespace', false),
  deployments: apps('deployments', 'Deployment'), replicasets: apps('replicasets', 'ReplicaSet'),
  statefulsets: apps('statefulsets', 'StatefulSet'), daemonsets: apps('daemonsets', 'DaemonSet'),
  jobs: { group: 'batch', version: 'v1', name: 'jobs', kind: 'Job', namespaced: true },
  cronjobs: { group: 'batch', version: 'v1', name: 'cronjobs', kind: 'CronJob', namespaced: true },
};

// List, then watch from the list's resourceVersion; `onChange(items)` gets the whole
// current set after every event. Stops when the page it belongs to goes away.
class Watch {
  constructor(path, params, onChange) {
    this.path = path; this.params = params || {}; this.onChange = onChange;
    this.items = new Map(); this.ctl = new AbortController(); this.stopped = false;
    this.run();
  }
  stop() { this.stopped = true; this.ctl.abort(); }
  query(extra) {
    const q = new URLSearchParams({ ...this.params, ...extra });
    return `${this.path}?${q}`;
  }
  async run() {
    let backoff = 250;
    while (!this.stopped) {
      try {
        const list = await api(this.query({}), { signal: this.ctl.signal });
        this.items = new Map(list.items.map((o) => [key(o), o]));
        this.emit();
        await this.stream(list.metadata.resourceVersion);
        backoff = 250;
      } catch (e) {
        if (this.stopped) return;
        setConn(e);
        await sleep(backoff);
        backoff = Math.min(backoff * 2, 5000);
      }
    }
  }
  emit() { try { this.onChange(this.items); } catch (e) { console.error(e); } }
  apply(ev) {
    if (ev.type === 'BOOKMARK') return false;
    if (ev.type === 'DELETED') this.items.delete(key(ev.object));
    else this.items.set(key(ev.object), ev.object);
    return true;
  }
  // Follow the watch from `rv`, re-watching where it ended; returns to relist on 410 Gone.
  // WebSockets first: a browser keeps only six HTTP/1.1 streams per host, and a page
  // watches more kinds than that.
  async stream(rv) {
    while (!this.stopped) {
      const r = this.noSockets ? await this.streamFetch(rv) : await this.streamSocket(rv);
      if (r.relist) return;
      rv = r.rv;
    }
  }
  watchQuery(rv) {
    return this.query({ watch: '1', resourceVersion: rv, allowWatchBookmarks: 'true' });
  }
  streamSocket(rv) {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${this.watchQuery(rv)}`);
      this.ctl.signal.addEventListener('abort', () => ws.close());
      let opened = false; let timer = null; let relist = false;
      ws.onopen = () => { opened = true; setConn(null); };
      ws.onmessage = (m) => {
        const ev = JSON.parse(m.data);
        if (ev.type === 'ERROR') { relist = true; ws.close(); return; }
        rv = ev.object.metadata.resourceVersion;
        // A burst of events is drawn once.
        if (this.apply(ev) && !timer) timer = setTimeout(() => { timer = null; this.emit(); }, 30);
      };
      ws.onclose = () => {
        if (timer) { clearTimeout(timer); this.emit(); }
        if (opened || relist) { resolve({ rv, relist }); return; }
        // A proxy that cannot upgrade: stream over HTTP from now on.
        this.noSockets = true;
        reject(new Error('watch over WebSocket refused'));
      };
    });
  }
  async streamFetch(rv) {
    const r = await fetch(this.watchQuery(rv), { signal: this.ctl.signal, headers: { Accept: 'application/json' } });
    if (!r.ok) throw new ApiError(r.status, null, await r.text());
    setConn(null);
    const reader = r.body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return { rv, relist: false };
      buf += dec.decode(value, { stream: true });
      let nl;
      let changed = false;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl); buf = buf.slice(nl + 1);
        if (!line.trim()) continue;
        const ev = JSON.parse(line);
        if (ev.type === 'ERROR') return { rv, relist: true };
        rv = ev.object.metadata.resourceVersion;
        changed = this.apply(ev) || changed;
      }
      if (changed) this.emit();
    }
  }
}
const key = (o) => `${o.metadata.namespace || ''}/${o.metadata.name}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
function setConn(err) {
  const c = $('#conn');
  if (!c) return;
  c.textContent = err ? `Connection problem: ${err.message}` : 'Live';
  c.className = err ? 'conn bad' : 'conn';
}

// ---------- page lifecycle ----------
let page = { watches: [], timers: [], cleanup: [] };
function watch(path, params, fn) { const w = new Watch(path, params, fn); page.watches.push(w); return w; }
function leave() {
  page.watches.forEach((w) => w.stop());
  page.timers.forEach(clearInterval);
  page.cleanup.forEach((f) => { try { f(); } catch (_) { /* already gone */ } });
  page = { watches: [], timers: [], cleanup: [] };
}
const state = { ns: localStorage.getItem('rkube.ns') ?? 'default', kinds: [], filter: '' };
const nsParam = () => state.ns;

// ---------- formatting ----------
function age(ts) {
  if (!ts) return '<unknown>';
  const s = Math.max(0, (Date.now() - Date.parse(ts)) / 1000);
  if (s < 120) return `${Math.floor(s)}s`;
  const m = s / 60; if (m < 180) return `${Math.floor(m)}m`;
  const h = m / 60; if (h < 48) return `${Math.floor(h)}h`;
  return `${Math.floor(h / 24)}d`;
}
function cpu(q) { // to millicores
  if (q === undefined || q === null) return 0;
  q = String(q);
  if (q.endsWith('n')) return parseFloat(q) / 1e6;
  if (q.endsWith('u')) return parseFloat(q) / 1e3;
  if (q.endsWith('m')) return parseFloat(q);
  return parseFloat(q) * 1000;
}
const UNITS = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
function bytes(q) {
  if (q === undefined || q === null) return 0;
  const m = String(q).match(/^([0-9.e+-]+)([A-Za-z]*)$/);
  if (!m) return 0;
  return parseFloat(m[1]) * (UNITS[m[2]] || 1);
}
const mib = (b) => `${Math.round(b / 2 ** 20)}Mi`;
const milli = (m) => `${Math.round(m)}m`;
function link(kind, o, text) {
  return el('a', { href: objHref(kind, o.metadata.namespace, o.metadata.name) }, text || o.metadata.name);
}
function objHref(r, ns, name) {
  return `#/o/${r.group || 'core'}/${r.version}/${r.name}/${ns || '_'}/${encodeURIComponent(name)}`;
}

// ---------- pod health in plain words ----------
const PULL = ['ImagePullBackOff', 'ErrImagePull', 'ErrImageNeverPull', 'InvalidImageName'];
function podStatus(p) {
  if (p.metadata.deletionTimestamp) return 'Terminating';
  for (const cs of [...(p.status.initContainerStatuses || []), ...(p.status.containerStatuses || [])]) {
    const w = cs.state && cs.state.waiting;
    if (w && w.reason && w.reason !== 'PodInitializing' && w.reason !== 'ContainerCreating') return w.reason;
    const t = cs.state && cs.state.terminated;
    if (t && t.reason && p.status.phase !== 'Succeeded' && t.exitCode !== 0) return t.reason;
  }
  return p.status.reason || p.status.phase || 'Unknown';
}
function ready(p) {
  const cs = p.status.containerStatuses || [];
  return `${cs.filter((c) => c.ready).length}/${(p.spec.containers || []).length}`;
}
const restarts = (p) => (p.status.containerStatuses || []).reduce((n, c) => n + (c.restartCount || 0), 0);

// What is wrong with a pod, in plain words; empty when nothing is.
function podProblems(p) {
  const out = [];
  const where = `${p.metadata.namespace}/${p.metadata.name}`;
  const statuses = [...(p.status.initContainerStatuses || []), ...(p.status.containerStatuses || [])];
  for (const cs of statuses) {
    const w = (cs.state && cs.state.waiting) || {};
    const last = (cs.lastState && cs.lastState.terminated) || {};
    const now = (cs.state && cs.state.terminated) || {};
    if (PULL.includes(w.reason)) {
      out.push({ pod: p, reason: w.reason, text: `Image "${cs.image}" is not in the node's Docker, and nothing can be pulled. ` +
        `Build it on this machine with "docker build -t ${cs.image} ." (rkube runs images from your Docker directly; ` +
        'use a tag other than :latest or set imagePullPolicy: IfNotPresent so the kubelet does not try to pull).' });
    } else if (w.reason === 'CrashLoopBackOff') {
      out.push({ pod: p, container: cs.name, reason: 'CrashLoopBackOff', logs: true,
        text: `Container "${cs.name}" keeps exiting (exit code ${last.exitCode ?? '?'}, ${cs.restartCount} restarts). Its last log lines:` });
    } else if (w.reason && w.message && !['ContainerCreating', 'PodInitializing'].includes(w.reason)) {
      out.push({ pod: p, reason: w.reason, text: w.message });
    }
    if (last.reason === 'OOMKilled' || now.reason === 'OOMKilled') {
      const c = (p.spec.containers || []).find((x) => x.name === cs.name);
      const limit = c && c.resources && c.resources.limits && c.resources.limits.memory;
      out.push({ pod: p, reason: 'OOMKilled', text: `Container "${cs.name}" ran out of memory${limit ? ` (limit ${limit})` : ''} and was killed. Raise its memory limit or lower its use.` });
    }
  }
  if (p.status.phase === 'Pending') {
    const sched = (p.status.conditions || []).find((c) => c.type === 'PodScheduled');
    if (sched && sched.status === 'False') {
      out.push({ pod: p, reason: 'Pending', text: `Not scheduled: ${sched.message || sched.reason}` });
    }
  }
  if (p.status.phase === 'Failed' && !out.length) {
    out.push({ pod: p, reason: p.status.reason || 'Failed', text: p.status.message || 'The pod failed.' });
  }
  out.forEach((x) => { x.where = where; });
  return out;
}

// ---------- namespace selector ----------
function initNamespaces() {
  const sel = $('#ns');
  sel.addEventListener('change', () => {
    state.ns = sel.value;
    localStorage.setItem('rkube.ns', state.ns);
    route();
  });
  new Watch(rpath(K.namespaces), {}, (items) => {
    const names = [...items.values()].map((n) => n.metadata.name).sort();
    if (state.ns && !names.includes(state.ns) && names.length) names.push(state.ns);
    sel.replaceChildren(el('option', { value: '' }, 'All namespaces'),
      ...names.map((n) => el('option', { value: n, selected: n === state.ns }, n)));
    sel.value = state.ns;
  });
}

// ---------- discovery: every kind, custom resources included ----------
const SECTIONS = [
  ['Workloads', ['pods', 'deployments', 'replicasets', 'statefulsets', 'daemonsets', 'jobs', 'cronjobs']],
  ['Network', ['services', 'ingresses', 'ingressclasses', 'endpointslices', 'networkpolicies']],
  ['Config', ['configmaps', 'secrets', 'horizontalpodautoscalers', 'poddisruptionbudgets', 'resourcequotas', 'limitranges']],
  ['Storage', ['persistentvolumeclaims', 'persistentvolumes', 'storageclasses']],
  ['Cluster', ['nodes', 'namespaces', 'events', 'serviceaccounts', 'roles', 'rolebindings', 'clusterroles',
    'clusterrolebindings', 'customresourcedefinitions', 'apiservices', 'priorityclasses', 'leases']],
];
const BUILTIN_GROUPS = /^(|apps|batch|autoscaling|policy|networking\.k8s\.io|storage\.k8s\.io|rbac\.authorization\.k8s\.io|apiextensions\.k8s\.io|apiregistration\.k8s\.io|coordination\.k8s\.io|discovery\.k8s\.io|events\.k8s\.io|scheduling\.k8s\.io|node\.k8s\.io|certificates\.k8s\.io|admissionregistration\.k8s\.io|flowcontrol\.apiserver\.k8s\.io|authentication\.k8s\.io|authorization\.k8s\.io|resource\.k8s\.io|storagemigration\.k8s\.io|internal\.apiserver\.k8s\.io|metrics\.k8s\.io)$/;
async function discover() {
  const groups = await api('/apis');
  const versions = [{ group: '', version: 'v1', path: '/api/v1' },
    ...groups.groups.map((g) => ({ group: g.name, version: g.preferredVersion.version, path: `/apis/${g.preferredVersion.groupVersion}` }))];
  const lists = await Promise.all(versions.map((v) => api(v.path).then((l) => [v, l]).catch(() => [v, { resources: [] }])));
  const kinds = [];
  for (const [v, l] of lists) {
    for (const r of l.resources) {
      if (r.name.includes('/') || !(r.verbs || []).includes('list')) continue;
      kinds.push({ group: v.group, version: v.version, name: r.name, kind: r.kind, namespaced: r.namespaced, verbs: r.verbs });
    }
  }
  // One entry per plural: the core group wins over events.k8s.io's Event.
  const seen = new Set();
  state.kinds = kinds.filter((k) => { const n = `${k.name}`; if (seen.has(n) && k.group) return false; seen.add(n); return true; });
  renderNav();
  setConn(null);
}
function findKind(group, name) {
  return state.kinds.find((k) => k.group === group && k.name === name) ||
    Object.values(K).find((k) => k.group === group && k.name === name);
}
function renderNav() {
  const box = $('#kinds');
  const used = new Set();
  const entry = (k) => el('li', {}, el('a', { href: `#/r/${k.group || 'core'}/${k.version}/${k.name}` }, k.kind));
  const parts = [];
  for (const [title, names] of SECTIONS) {
    const ks = names.map((n) => state.kinds.find((k) => k.name === n)).filter(Boolean);
    ks.forEach((k) => used.add(k));
    if (ks.length) parts.push(el('h2', {}, title), el('ul', {}, ks.map(entry)));
  }
  const custom = state.kinds.filter((k) => !used.has(k) && !BUILTIN_GROUPS.test(k.group));
  custom.forEach((k) => used.add(k));
  if (custom.length) parts.push(el('h2', {}, 'Custom resources'), el('ul', {}, custom.map(entry)));
  const other = state.kinds.filter((k) => !used.has(k));
  if (other.length) parts.push(el('h2', {}, 'Other'), el('ul', {}, other.map(entry)));
  box.replaceChildren(...parts);
  markNav();
}
function markNav() {
  document.querySelectorAll('nav a').forEach((a) => a.classList.toggle('active', a.getAttribute('href') === location.hash || (a.getAttribute('href') === '#/' && !location.hash)));
}

// ---------- Overview ----------
function overview() {
  const m = main();
  const ns = nsParam();
  const title = el('h1', {}, 'Overview ', el('small', {}, ns ? `namespace ${ns}` : 'all namespaces'));
  const cards = el('div', { class: 'cards' });
  const problems = el('div', { id: 'problems' });
  const podsBox = el('div', { id: 'pods' });
  m.replaceChildren(title, cards, problems, el('h3', {}, 'Pods'), podsBox);
  const data = {};
  const logCache = new Map();
  const kinds = ['pods', 'deployments', 'statefulsets', 'daemonsets', 'replicasets', 'jobs', 'cronjobs', 'services'];
  const draw = () => {
    if (!data.pods) return;
    const pods = [...data.pods.values()];
    const counts = (name, okFn) => {
      const items = [...(data[name] || new Map()).values()];
      return { n: items.length, bad: items.filter((o) => !okFn(o)).length };
    };
    const wl = {
      Deployments: counts('deployments', (d) => (d.status.availableReplicas || 0) >= (d.spec.replicas ?? 1)),
      StatefulSets: counts('statefulsets', (s) => (s.status.readyReplicas || 0) >= (s.spec.replicas ?? 1)),
      DaemonSets: counts('daemonsets', (d) => (d.status.numberReady || 0) >= (d.status.desiredNumberScheduled || 0)),
      Jobs: counts('jobs', (j) => !(j.status.conditions || []).some((c) => c.type === 'Failed' && c.status === 'True')),
      CronJobs: counts('cronjobs', () => true),
      Services: counts('services', () => true),
    };
    const running = pods.filter((p) => p.status.phase === 'Running' || p.status.phase === 'Succeeded').length;
    const podProb = pods.flatMap(podProblems);
    cards.replaceChildren(
      el('a', { class: `card ${podProb.length ? 'bad' : 'good'}`, href: '#/r/core/v1/pods', 'data-kind': 'pods' },
        el('b', {}, `${running}/${pods.length}`), 'Pods running'),
      ...Object.entries(wl).map(([name, c]) => el('a', { class: `card ${c.bad ? 'bad' : ''}`, href: `#/r/${name === 'Services' ? 'core/v1' : (name === 'Jobs' || name === 'CronJobs' ? 'batch/v1' : 'apps/v1')}/${name.toLowerCase()}` },
        el('b', {}, c.bad ? `${c.n - c.bad}/${c.n}` : `${c.n}`), c.bad ? `${name} healthy` : name)));
    const workloadProb = [];
    for (const d of (data.deployments || new Map()).values()) {
      const want = d.spec.replicas ?? 1; const have = d.status.availableReplicas || 0;
      if (have < want) {
        const cond = (d.status.conditions || []).find((c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded');
        workloadProb.push({ warn: true, where: `${d.metadata.namespace}/${d.metadata.name}`, kind: K.deployments, obj: d, reason: 'Unavailable',
          text: `${have} of ${want} replicas available${cond ? `: ${cond.message}` : ''}.` });
      }
    }
    const all = [...podProb, ...workloadProb];
    problems.replaceChildren(all.length ? el('h3', {}, `Needs attention (${all.length})`) : '',
      el('ul', { class: 'problems' }, all.map((x) => {
        const li = el('li', { class: `problem ${x.warn ? 'warn' : ''}` },
          el('b', {}, `${x.reason} `), x.pod ? link(K.pods, x.pod, x.where) : link(x.kind, x.obj, x.where), ' — ', x.text);
        if (x.logs) {
          const k = `${x.where}/${x.container}`;
          const pre = el('pre', { class: 'mono' }, logCache.get(k) || '…');
          li.append(pre);
          if (!logCache.has(k)) {
            logCache.set(k, '…');
            api(`${rpath(K.pods, x.pod.metadata.namespace, x.pod.metadata.name, 'log')}?container=${encodeURIComponent(x.container)}&previous=true&tailLines=5`, { text: true })
              .then((t) => { logCache.set(k, t.trim() || '(no output)'); pre.textContent = logCache.get(k); })
              .catch((e) => { logCache.set(k, `(logs unavailable: ${e.message})`); pre.textContent = logCache.get(k); });
          }
        }
        return li;
      })));
    // Failing pods first, then by name.
    const bad = new Set(podProb.map((x) => x.pod));
    pods.sort((a, b) => (bad.has(b) - bad.has(a)) || key(a).localeCompare(key(b)));
    podsBox.replaceChildren(podTable(pods, !ns, bad));
  };
  for (const k of kinds) {
    watch(rpath(K[k], ns), {}, (items) => { data[k] = items; draw(); });
  }
}
function podTable(pods, showNs, bad) {
  return el('table', { class: 'pods' },
    el('thead', {}, el('tr', {}, showNs ? el('th', {}, 'Namespace') : '', ['Name', 'Ready', 'Status', 'Restarts', 'Age', 'Node'].map((h) => el('th', {}, h)))),
    el('tbody', {}, pods.map((p) => el('tr', { 'data-name': p.metadata.name },
      showNs ? el('td', {}, p.metadata.namespace) : '',
      el('td', {}, link(K.pods, p)),
      el('td', {}, ready(p)),
      el('td', { class: bad && bad.has(p) ? 'err' : '' }, podStatus(p)),
      el('td', {}, restarts(p)),
      el('td', {}, age(p.metadata.creationTimestamp)),
      el('td', {}, p.spec.nodeName || '')))));
}

// ---------- Lists: the server's own Table columns, as kubectl get shows them ----------
function list(group, version, plural) {
  const kind = findKind(group, plural) || { group, version, name: plural, kind: plural, namespaced: true };
  const ns = kind.namespaced ? nsParam() : '';
  const m = main();
  const nameFilter = el('input', { type: 'search', placeholder: 'Filter by name', 'aria-label': 'Filter by name', value: state.filter });
  const labelFilter = el('input', { type: 'search', placeholder: 'Label selector, e.g. app=web', 'aria-label': 'Label selector', size: 28 });
  const box = el('div', {}, el('p', { class: 'muted' }, 'Loading…'));
  m.replaceChildren(el('h1', {}, kind.kind, ' ', el('small', {}, kind.namespaced ? (ns ? `namespace ${ns}` : 'all namespaces') : 'cluster-wide')),
    el('div', { class: 'bar' }, nameFilter, labelFilter), box);
  let table = null;
  let pending = null;
  let w = null;
  const draw = () => {
    if (!table) return;
    const cols = table.columnDefinitions.map((c, i) => [c, i]).filter(([c]) => !c.priority);
    const q = nameFilter.value.trim().toLowerCase();
    const rows = table.rows.filter((r) => !q || (r.object.metadata.name || '').toLowerCase().includes(q));
    box.replaceChildren(rows.length ? el('table', { class: 'list' },
      el('thead', {}, el('tr', {}, (!ns && kind.namespaced) ? el('th', {}, 'Namespace') : '', cols.map(([c]) => el('th', { title: c.description || '' }, c.name.toUpperCase())))),
      el('tbody', {}, rows.map((r) => el('tr', { 'data-name': r.object.metadata.name },
        (!ns && kind.namespaced) ? el('td', {}, r.object.metadata.namespace) : '',
        cols.map(([c, i], j) => el('td', {}, j === 0 ? link(kind, r.object, String(r.cells[i])) : fmtCell(r.cells[i])))))))
      : el('p', { class: 'muted' }, `No ${kind.kind} found${q ? ` matching "${q}"` : ''}.`));
  };
  const fetchTable = async () => {
    const q = new URLSearchParams();
    if (labelFilter.value.trim()) q.set('labelSelector', labelFilter.value.trim());
    try {
      table = await api(`${rpath(kind, ns)}?${q}`, { accept: TABLE });
      draw();
    } catch (e) {
      box.replaceChildren(el('div', { class: 'msg bad' }, e.message));
    }
  };
  const refetch = () => { clearTimeout(pending); pending = setTimeout(fetchTable, 150); };
  const restart = () => {
    if (w) w.stop();
    const params = labelFilter.value.trim() ? { labelSelector: labelFilter.value.trim() } : {};
    w = watch(rpath(kind, ns), params, refetch);
  };
  nameFilter.addEventListener('input', () => { state.filter = nameFilter.value; draw(); });
  labelFilter.addEventListener('change', restart);
  restart();
}
function fmtCell(v) {
  if (Array.isArray(v)) return v.join(', ');
  if (v === null || v === undefined) return '<none>';
  return String(v);
}

// ---------- Details ----------
function details(group, version, plural, ns, name) {
  const kind = findKind(group, plural) || { group, version, name: plural, kind: plural, namespaced: ns !== '_' };
  ns = ns === '_' ? '' : ns;
  const path = rpath(kind, ns, name);
  const m = main();
  const head = el('h1', {}, `${kind.kind} `, el('small', {}, ns ? `${ns}/${name}` : name));
  const actions = el('div', { class: 'bar', id: 'actions' });
  const tabs = el('div', { class: 'tabs', role: 'tablist' });
  const body = el('div', { id: 'tab' });
  m.replaceChildren(head, actions, tabs, body);
  let obj = null;
  let tab = 'summary';
  const TABS = [['summary', 'Summary'], ['yaml', 'YAML'], ['events', 'Events']];
  const drawTabs = () => tabs.replaceChildren(...TABS.map(([id, label]) => el('button', {
    role: 'tab', 'aria-selected': String(tab === id), id: `tab-${id}`,
    onclick: () => { tab = id; drawTabs(); drawBody(true); },
  }, label)));
  let events = [];
  let related = el('div');
  const drawBody = (switched) => {
    if (!obj) return;
    if (tab === 'yaml') { if (switched) yamlTab(body, kind, path); return; }
    if (tab === 'events') { body.replaceChildren(eventTable(events)); return; }
    body.replaceChildren(summary(kind, obj), related);
  };
  drawTabs();
  watch(rpath(kind, ns), { fieldSelector: `metadata.name=${name}` }, (items) => {
    const o = items.get(`${ns}/${name}`);
    if (!o) {
      obj = null;
      actions.replaceChildren();
      body.replaceChildren(el('div', { class: 'msg' }, `${kind.kind} ${name} does not exist (or was deleted).`));
      return;
    }
    const first = !obj;
    const rolled = obj && obj.metadata.generation !== o.metadata.generation;
    obj = o;
    // Drawn once: a status update must not wipe what the user is typing.
    if (first) drawActions(actions, kind, () => obj);
    else if (rolled && actions.refresh) actions.refresh();
    if (tab !== 'yaml' || first) drawBody(first);
  });
  if (kind.name !== 'events') {
    const sel = [`involvedObject.name=${name}`];
    if (ns) sel.push(`involvedObject.namespace=${ns}`);
    watch(rpath(K.events, ns), { fieldSelector: sel.join(',') }, (items) => {
      events = [...items.values()].filter((e) => !e.involvedObject.kind || e.involvedObject.kind === kind.kind);
      if (tab === 'events') drawBody(false);
    });
  }
  relatedFor(kind, ns, name, (node) => { related = node; if (tab === 'summary' && obj) drawBody(false); });
}
function eventTable(events) {
  if (!events.length) return el('p', { class: 'muted' }, 'No events.');
  events.sort((a, b) => Date.parse(b.lastTimestamp || b.eventTime || b.metadata.creationTimestamp) - Date.parse(a.lastTimestamp || a.eventTime || a.metadata.creationTimestamp));
  return el('table', {}, el('thead', {}, el('tr', {}, ['Last seen', 'Type', 'Reason', 'From', 'Message'].map((h) => el('th', {}, h)))),
    el('tbody', {}, events.map((e) => el('tr', {},
      el('td', {}, age(e.lastTimestamp || e.eventTime || e.metadata.creationTimestamp)),
      el('td', { class: e.type === 'Warning' ? 'warn' : '' }, e.type),
      el('td', {}, e.reason), el('td', {}, (e.source && e.source.component) || e.reportingComponent || ''),
      el('td', { class: 'wrap' }, e.count > 1 ? `${e.message} (x${e.count})` : e.message)))));
}
function summary(kind, o) {
  const md = o.metadata;
  const chips = (m) => Object.entries(m || {}).map(([k, v]) => el('span', { class: 'chip' }, `${k}=${v}`));
  const owners = (md.ownerReferences || []).map((r) => {
    const k = state.kinds.find((x) => x.kind === r.kind && `${x.group ? `${x.group}/` : ''}${x.version}` === r.apiVersion) ||
      state.kinds.find((x) => x.kind === r.kind);
    return k ? el('a', { href: objHref(k, md.namespace, r.name) }, `${r.kind}/${r.name}`) : `${r.kind}/${r.name}`;
  });
  const parts = [el('dl', { class: 'kv' },
    el('dt', {}, 'Created'), el('dd', {}, `${md.creationTimestamp} (${age(md.creationTimestamp)} ago)`),
    el('dt', {}, 'Labels'), el('dd', {}, chips(md.labels).length ? chips(md.labels) : '—'),
    el('dt', {}, 'Owners'), el('dd', {}, owners.length ? owners.map((x) => [x, ' ']) : '—'),
    ...statusLines(kind, o))];
  const conds = (o.status && o.status.conditions) || [];
  if (conds.length) {
    parts.push(el('h3', {}, 'Conditions'), el('table', {},
      el('thead', {}, el('tr', {}, ['Type', 'Status', 'Reason', 'Message', 'Last transition'].map((h) => el('th', {}, h)))),
      el('tbody', {}, conds.map((c) => el('tr', {}, el('td', {}, c.type),
        el('td', { class: c.status === 'True' ? 'ok' : '' }, c.status), el('td', {}, c.reason || ''),
        el('td', { class: 'wrap' }, c.message || ''), el('td', {}, age(c.lastTransitionTime)))))));
  }
  if (kind.kind === 'Pod') parts.push(containerTable(o));
  if (kind.kind === 'Pod' && podProblems(o).length) {
    parts.unshift(el('ul', { class: 'problems' }, podProblems(o).map((x) => el('li', { class: 'problem' }, el('b', {}, `${x.reason} `), x.text))));
  }
  return el('div', {}, parts);
}
function statusLines(kind, o) {
  const s = o.status || {};
  const spec = o.spec || {};
  const kv = (k, v) => [el('dt', {}, k), el('dd', {}, v)];
  switch (kind.kind) {
    case 'Deployment': case 'StatefulSet': case 'ReplicaSet':
      return [...kv('Replicas', `${s.readyReplicas || 0} ready, ${s.availableReplicas ?? s.readyReplicas ?? 0} available of ${spec.replicas ?? 1} desired`),
        ...kv('Images', (spec.template.spec.containers || []).map((c) => c.image).join(', '))];
    case 'Pod':
      return [...kv('Status', podStatus(o)), ...kv('Node', spec.nodeName || '—'), ...kv('Pod IP', s.podIP || '—')];
    case 'Service':
      return [...kv('Type', spec.type), ...kv('Cluster IP', spec.clusterIP || '—'),
        ...kv('Ports', (spec.ports || []).map((p) => `${p.name ? `${p.name} ` : ''}${p.port}/${p.protocol}${p.nodePort ? ` → node ${p.nodePort}` : ''}`).join(', '))];
    case 'Node':
      return [...kv('Capacity', `${s.capacity.cpu} CPU, ${mib(bytes(s.capacity.memory))} memory, ${s.capacity.pods} pods`),
        ...kv('Allocatable', `${s.allocatable.cpu} CPU, ${mib(bytes(s.allocatable.memory))} memory`)];
    default: return [];
  }
}
function containerTable(p) {
  const st = new Map((p.status.containerStatuses || []).map((c) => [c.name, c]));
  const nsn = [p.metadata.namespace, p.metadata.name].map(encodeURIComponent).join('/');
  return el('div', {}, el('h3', {}, 'Containers'), el('table', {},
    el('thead', {}, el('tr', {}, ['Name', 'Image', 'State', 'Restarts', ''].map((h) => el('th', {}, h)))),
    el('tbody', {}, p.spec.containers.map((c) => {
      const s = st.get(c.name) || {};
      const state = s.state ? Object.keys(s.state)[0] : 'waiting';
      return el('tr', {}, el('td', {}, c.name), el('td', {}, c.image), el('td', {}, state), el('td', {}, s.restartCount || 0),
        el('td', {}, el('a', { href: `#/logs/${nsn}?c=${encodeURIComponent(c.name)}` }, 'Logs'), ' ',
          el('a', { href: `#/exec/${nsn}?c=${encodeURIComponent(c.name)}` }, 'Shell')));
    }))));
}

// Owned objects (Deployment → ReplicaSets → Pods) and a Service's pods.
function relatedFor(kind, ns, name, done) {
  const owned = (items, ownerName, ownerKind) => [...items.values()].filter((o) => (o.metadata.ownerReferences || []).some((r) => r.name === ownerName && r.kind === ownerKind));
  if (kind.kind === 'Deployment') {
    let rss = new Map(); let pods = new Map();
    const draw = () => {
      const mine = owned(rss, name, 'Deployment').sort((a, b) => rev(b) - rev(a));
      const names = new Set(mine.map((r) => r.metadata.name));
      const myPods = [...pods.values()].filter((p) => (p.metadata.ownerReferences || []).some((r) => names.has(r.name)));
      done(el('div', {}, el('h3', {}, 'ReplicaSets'), el('table', {},
        el('thead', {}, el('tr', {}, ['Revision', 'Name', 'Ready', 'Age'].map((h) => el('th', {}, h)))),
        el('tbody', {}, mine.map((r) => el('tr', {}, el('td', {}, rev(r)), el('td', {}, link(K.replicasets, r)),
          el('td', {}, `${r.status.readyReplicas || 0}/${r.spec.replicas}`), el('td', {}, age(r.metadata.creationTimestamp)))))),
      el('h3', {}, 'Pods'), podTable(myPods, false)));
    };
    watch(rpath(K.replicasets, ns), {}, (i) => { rss = i; draw(); });
    watch(rpath(K.pods, ns), {}, (i) => { pods = i; draw(); });
  } else if (['ReplicaSet', 'StatefulSet', 'DaemonSet', 'Job'].includes(kind.kind)) {
    watch(rpath(K.pods, ns), {}, (i) => done(el('div', {}, el('h3', {}, 'Pods'), podTable(owned(i, name, kind.kind), false))));
  } else if (kind.kind === 'CronJob') {
    watch(rpath(K.jobs, ns), {}, (i) => done(el('div', {}, el('h3', {}, 'Jobs'), el('ul', {},
      owned(i, name, 'CronJob').map((j) => el('li', {}, link(K.jobs, j), ` — ${(j.status.succeeded || 0)} succeeded, ${age(j.metadata.creationTimestamp)} ago`))))));
  } else if (kind.kind === 'Service') {
    let svc = null; let pods = new Map(); let nodes = new Map();
    const draw = () => {
      if (!svc) return;
      const sel = svc.spec.selector || {};
      const mine = Object.keys(sel).length ? [...pods.values()].filter((p) => Object.entries(sel).every(([k, v]) => (p.metadata.labels || {})[k] === v)) : [];
      done(el('div', {}, serviceAccess(svc, nodes), el('h3', {}, 'Pods behind it'), mine.length ? podTable(mine, false) : el('p', { class: 'muted' }, 'No pods match its selector.')));
    };
    watch(rpath(K.services, ns), { fieldSelector: `metadata.name=${name}` }, (i) => { svc = i.get(`${ns}/${name}`) || null; draw(); });
    watch(rpath(K.pods, ns), {}, (i) => { pods = i; draw(); });
    watch(rpath(K.nodes), {}, (i) => { nodes = i; draw(); });
  }
}
const rev = (r) => parseInt((r.metadata.annotations || {})['deployment.kubernetes.io/revision'] || '0', 10);

// Where a Service can be opened: node ports, load-balancer addresses, and the API proxy.
function serviceAccess(svc, nodes) {
  const ns = svc.metadata.namespace; const name = svc.metadata.name;
  const ips = [...nodes.values()].map((n) => ((n.status.addresses || []).find((a) => a.type === 'InternalIP') || {}).address).filter(Boolean);
  const rows = [];
  for (const p of svc.spec.ports || []) {
    const urls = [];
    if (p.nodePort) ips.forEach((ip) => urls.push(`http://${ip}:${p.nodePort}`));
    for (const ing of (svc.status.loadBalancer || {}).ingress || []) urls.push(`http://${ing.ip || ing.hostname}:${p.port}`);
    const proxied = `/api/v1/namespaces/${encodeURIComponent(ns)}/services/${encodeURIComponent(name)}:${p.name || p.port}/proxy/`;
    rows.push(el('tr', {}, el('td', {}, `${p.port}/${p.protocol}`),
      el('td', {}, urls.map((u) => [el('a', { href: u, target: '_blank', rel: 'noopener' }, u), ' '])),
      el('td', {}, p.protocol === 'TCP' ? el('a', { href: proxied, target: '_blank', rel: 'noopener' }, 'Open through the API proxy') : ''),
      el('td', {}, p.protocol === 'TCP' ? portForwardButton(ns, name, p.port) : '')));
  }
  return el('div', {}, el('h3', {}, 'Open'), el('table', {},
    el('thead', {}, el('tr', {}, ['Port', 'URLs', 'In the browser', 'On this machine'].map((h) => el('th', {}, h)))),
    el('tbody', {}, rows)));
}

// A port-forward started by `rkube dashboard` (it keeps it until Ctrl+C); other proxies
// cannot, so the page shows the kubectl command instead.
const forwards = new Map();
function portForwardButton(ns, name, port) {
  const id = `${ns}/${name}:${port}`;
  const box = el('span', { class: 'forward' });
  const show = (url) => box.replaceChildren(el('a', { href: url, target: '_blank', rel: 'noopener', class: 'forward-url' }, url));
  if (forwards.has(id)) { show(forwards.get(id)); return box; }
  const button = el('button', { class: 'port-forward', onclick: async () => {
    button.disabled = true;
    try {
      const r = await api(`/rkube/v1/port-forwards`, { method: 'POST', body: { namespace: ns, service: name, port } });
      forwards.set(id, r.url);
      show(r.url);
    } catch (e) {
      box.replaceChildren(e.code === 404
        ? el('code', {}, `kubectl port-forward -n ${ns} svc/${name} ${port < 1024 ? 8000 + port : port}:${port}`)
        : el('span', { class: 'err' }, e.message));
    }
  } }, 'Port-forward');
  box.append(button);
  return box;
}

// ---------- Actions ----------
function drawActions(bar, kind, current) {
  const o = current();
  const ns = o.metadata.namespace; const name = o.metadata.name;
  const path = rpath(kind, ns, name);
  const items = [];
  const act = async (label, fn) => {
    try { await fn(); toast(label); } catch (e) { toast(`${e.message}`, true); }
  };
  if (['Deployment', 'ReplicaSet', 'StatefulSet'].includes(kind.kind)) {
    const input = el('input', { type: 'number', min: 0, value: o.spec.replicas ?? 1, 'aria-label': 'Replicas', id: 'replicas' });
    items.push(el('label', {}, 'Replicas ', input), el('button', { id: 'scale', onclick: () => act(`Scaled ${name} to ${input.value}`,
      () => api(`${path}/scale`, { method: 'PATCH', type: 'application/merge-patch+json', body: { spec: { replicas: parseInt(input.value, 10) } } })) }, 'Scale'));
  }
  if (['Deployment', 'StatefulSet', 'DaemonSet'].includes(kind.kind)) {
    items.push(el('button', { id: 'restart', onclick: () => act(`Restarting ${name}`, () => api(path, { method: 'PATCH', type: 'application/strategic-merge-patch+json',
      body: { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': new Date().toISOString() } } } } } })) }, 'Restart'));
  }
  if (kind.kind === 'Deployment') {
    const sel = el('select', { 'aria-label': 'Revision', id: 'revision' });
    let prev = '';
    const revisions = () => api(rpath(K.replicasets, ns)).then((l) => {
        prev = sel.value;
        const mine = l.items.filter((r) => (r.metadata.ownerReferences || []).some((x) => x.kind === 'Deployment' && x.uid === current().metadata.uid)).sort((a, b) => rev(b) - rev(a));
        sel.replaceChildren(...mine.map((r) => el('option', { value: r.metadata.name }, `revision ${rev(r)} (${r.spec.template.spec.containers.map((c) => c.image).join(', ')})`)));
        if (mine.some((r) => r.metadata.name === prev)) sel.value = prev;
        sel._rs = mine;
      }).catch(() => {});
    revisions();
    bar.refresh = () => setTimeout(revisions, 500);
    items.push(sel, el('button', { id: 'rollback', onclick: () => act('Rolled back', () => {
      const rs = (sel._rs || []).find((r) => r.metadata.name === sel.value);
      if (!rs) throw new Error('Pick a revision first.');
      const tpl = JSON.parse(JSON.stringify(rs.spec.template));
      delete (tpl.metadata.labels || {})['pod-template-hash'];
      return api(path, { method: 'PATCH', type: 'application/json-patch+json', body: [
        { op: 'test', path: '/metadata/uid', value: current().metadata.uid },
        { op: 'replace', path: '/spec/template', value: tpl }] });
    }) }, 'Roll back'));
  }
  if (kind.kind === 'CronJob') {
    items.push(el('button', { id: 'trigger', onclick: () => act(`Started a job from ${name}`, () => {
      const t = current().spec.jobTemplate;
      const jobName = `${name}-manual-${Math.floor(Date.now() / 1000) % 100000}`.slice(0, 52);
      return api(rpath(K.jobs, ns), { method: 'POST', body: { apiVersion: 'batch/v1', kind: 'Job',
        metadata: { name: jobName, namespace: ns, labels: (t.metadata || {}).labels, annotations: { ...((t.metadata || {}).annotations || {}), 'cronjob.kubernetes.io/instantiate': 'manual' },
          ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name, uid: current().metadata.uid, controller: true }] },
        spec: t.spec } });
    }) }, 'Trigger now'));
  }
  if (kind.kind === 'Pod') {
    const nsn = [ns, name].map(encodeURIComponent).join('/');
    items.push(el('a', { href: `#/logs/${nsn}`, id: 'logs' }, 'Logs'), el('a', { href: `#/exec/${nsn}`, id: 'shell' }, 'Shell'));
  }
  if ((kind.verbs || ['delete']).includes('delete')) {
    const confirm = el('button', { class: 'danger', id: 'confirm-delete', hidden: true, onclick: () => act(`Deleted ${kind.kind} ${name}`,
      () => api(`${path}?propagationPolicy=Background`, { method: 'DELETE' })) }, `Really delete ${name}?`);
    items.push(el('button', { class: 'danger', id: 'delete', onclick: (e) => { e.target.hidden = true; confirm.hidden = false; confirm.focus(); } }, 'Delete'), confirm);
  }
  bar.replaceChildren(...items);
}

// YAML as the server renders it; saved with PUT, so a stale resourceVersion is a conflict.
function yamlTab(box, kind, path) {
  const area = el('textarea', { spellcheck: 'false', 'aria-label': 'YAML', id: 'yaml' });
  const msg = el('div', { id: 'yaml-msg' });
  const load = async () => {
    area.value = await api(path, { accept: 'application/yaml', text: true });
    msg.replaceChildren();
  };
  const save = async () => {
    try {
      await api(path, { method: 'PUT', type: 'application/yaml', body: area.value });
      msg.replaceChildren(el('div', { class: 'msg' }, 'Saved.'));
      await load();
      msg.replaceChildren(el('div', { class: 'msg' }, 'Saved.'));
    } catch (e) {
      const text = e.code === 409
        ? `Conflict: this ${kind.kind} was changed by someone else after you opened it (${e.message}). Reload to get the latest version, then make your change again.`
        : e.message;
      msg.replaceChildren(el('div', { class: 'msg bad', role: 'alert' }, text));
    }
  };
  box.replaceChildren(el('div', { class: 'bar' }, el('button', { class: 'primary', id: 'save', onclick: save }, 'Save'),
    el('button', { id: 'reload', onclick: () => load().catch((e) => toast(e.message, true)) }, 'Reload')), msg, area);
  load().catch((e) => msg.replaceChildren(el('div', { class: 'msg bad' }, e.message)));
}

// ---------- Logs ----------
function logs(ns, name, params) {
  const m = main();
  const csel = el('select', { 'aria-label': 'Container', id: 'container' });
  const follow = el('input', { type: 'checkbox', id: 'follow', checked: true });
  const previous = el('input', { type: 'checkbox', id: 'previous' });
  const search = el('input', { type: 'search', placeholder: 'Search', 'aria-label': 'Search the log', id: 'log-search' });
  const pre = el('pre', { class: 'log', id: 'log', tabindex: '0' });
  let text = '';
  let ctl = null;
  const draw = () => {
    const q = search.value;
    if (!q) { pre.textContent = text; } else {
      pre.replaceChildren(...text.split('\n').filter((l) => l.includes(q)).flatMap((l) => {
        const parts = l.split(q);
        return [...parts.flatMap((p, i) => (i ? [el('mark', {}, q), p] : [p])), '\n'];
      }));
    }
    if (follow.checked) pre.scrollTop = pre.scrollHeight;
  };
  const start = async () => {
    if (ctl) ctl.abort();
    ctl = new AbortController();
    page.cleanup.push(() => ctl.abort());
    text = '';
    draw();
    const q = new URLSearchParams({ container: csel.value, tailLines: '2000' });
    if (previous.checked) q.set('previous', 'true');
    else if (follow.checked) q.set('follow', 'true');
    try {
      const r = await fetch(`${rpath(K.pods, ns, name, 'log')}?${q}`, { signal: ctl.signal });
      if (!r.ok) {
        let msg = await r.text();
        try { msg = JSON.parse(msg).message; } catch (_) { /* plain */ }
        pre.textContent = `(${msg})`;
        return;
      }
      const reader = r.body.getReader();
      const dec = new TextDecoder();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        text += dec.decode(value, { stream: true });
        if (text.length > 4e6) text = text.slice(-2e6);
        draw();
      }
    } catch (e) {
      if (e.name !== 'AbortError') pre.textContent += `\n(${e.message})`;
    }
  };
  const download = () => {
    const a = el('a', { href: URL.createObjectURL(new Blob([text], { type: 'text/plain' })), download: `${name}-${csel.value}.log` });
    document.body.append(a); a.click(); a.remove();
  };
  m.replaceChildren(el('h1', {}, 'Logs ', el('small', {}, `${ns}/`, link(K.pods, { metadata: { namespace: ns, name } }))),
    el('div', { class: 'bar' }, el('label', {}, 'Container ', csel), el('label', {}, follow, ' Follow'),
      el('label', {}, previous, ' Previous'), search, el('button', { id: 'download', onclick: download }, 'Download')), pre);
  api(rpath(K.pods, ns, name)).then((p) => {
    const names = [...(p.spec.initContainers || []), ...p.spec.containers].map((c) => c.name);
    csel.replaceChildren(...names.map((c) => el('option', { value: c, selected: c === (params.get('c') || p.spec.containers[0].name) }, c)));
    start();
  }).catch((e) => { pre.textContent = `(${e.message})`; });
  [csel, follow, previous].forEach((x) => x.addEventListener('change', start));
  search.addEventListener('input', draw);
}

// ---------- A shell in a real terminal (xterm.js, loaded only here) ----------
function loadScript(src) {
  return new Promise((resolve, reject) => {
    if (document.querySelector(`script[src="${src}"]`)) { resolve(); return; }
    const s = el('script', { src });
    s.onload = resolve; s.onerror = () => reject(new Error(`cannot load ${src}`));
    document.head.append(s);
  });
}
async function exec(ns, name, params) {
  const m = main();
  const csel = el('select', { 'aria-label': 'Container', id: 'container' });
  const term = el('div', { class: 'term', id: 'terminal' });
  const status = el('span', { class: 'muted', id: 'exec-status' }, 'Connecting…');
  m.replaceChildren(el('h1', {}, 'Shell ', el('small', {}, `${ns}/`, link(K.pods, { metadata: { namespace: ns, name } }))),
    el('div', { class: 'bar' }, el('label', {}, 'Container ', csel), el('button', { onclick: () => connect() }, 'Reconnect'), status), term);
  if (!document.querySelector('link[href="vendor/xterm.min.css"]')) document.head.append(el('link', { rel: 'stylesheet', href: 'vendor/xterm.min.css' }));
  await loadScript('vendor/xterm.min.js');
  await loadScript('vendor/xterm-addon-fit.min.js');
  const pod = await api(rpath(K.pods, ns, name));
  csel.replaceChildren(...pod.spec.containers.map((c) => el('option', { value: c.name, selected: c.name === params.get('c') }, c.name)));
  const xterm = new window.Terminal({ cursorBlink: true, fontSize: 13, convertEol: false });
  const fit = new window.FitAddon.FitAddon();
  xterm.loadAddon(fit);
  xterm.open(term);
  fit.fit();
  window.rkubeTerminal = xterm;
  let ws = null;
  const enc = new TextEncoder();
  const send = (channel, data) => {
    if (!ws || ws.readyState !== 1) return;
    const bytes = typeof data === 'string' ? enc.encode(data) : data;
    const msg = new Uint8Array(bytes.length + 1);
    msg[0] = channel; msg.set(bytes, 1);
    ws.send(msg);
  };
  const resize = () => send(4, JSON.stringify({ Width: xterm.cols, Height: xterm.rows }));
  xterm.onData((d) => send(0, d));
  xterm.onResize(resize);
  const onWin = () => fit.fit();
  window.addEventListener('resize', onWin);
  page.cleanup.push(() => window.removeEventListener('resize', onWin), () => ws && ws.close(), () => xterm.dispose());
  function connect() {
    if (ws) ws.close();
    const q = new URLSearchParams({ container: csel.value, stdin: 'true', stdout: 'true', tty: 'true' });
    for (const c of ['/bin/sh', '-c', 'command -v bash >/dev/null 2>&1 && exec bash || exec sh']) q.append('command', c);
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${rpath(K.pods, ns, name, 'exec')}?${q}`;
    ws = new WebSocket(url, ['v5.channel.k8s.io', 'v4.channel.k8s.io']);
    ws.binaryType = 'arraybuffer';
    const dec = new TextDecoder();
    ws.onopen = () => { status.textContent = 'Connected'; resize(); xterm.focus(); };
    ws.onmessage = (ev) => {
      const b = new Uint8Array(ev.data);
      if (!b.length) return;
      if (b[0] === 1 || b[0] === 2) xterm.write(b.subarray(1));
      else if (b[0] === 3) {
        const st = JSON.parse(dec.decode(b.subarray(1)) || '{}');
        status.textContent = st.status === 'Success' ? 'Exited' : `Ended: ${st.message || st.status}`;
      }
    };
    ws.onclose = (ev) => { if (status.textContent === 'Connected' || status.textContent.startsWith('Connecting')) status.textContent = `Disconnected${ev.code === 1006 ? ' (the proxy refused the connection; kubectl proxy rejects exec unless started with --reject-paths=)' : ''}`; };
  }
  csel.addEventListener('change', connect);
  connect();
}

// ---------- Nodes: capacity, requests, and usage when metrics-server runs ----------
function nodes() {
  const m = main();
  const box = el('div', {}, el('p', { class: 'muted' }, 'Loading…'));
  m.replaceChildren(el('h1', {}, 'Nodes'), box);
  let ns = new Map(); let pods = new Map(); let usage = null; let podUsage = null; let metricsError = null;
  const meter = (used, total) => el('span', { class: 'meter', title: `${Math.round((100 * used) / (total || 1))}%` },
    el('span', { style: `width:${Math.min(100, Math.round((100 * used) / (total || 1)))}%` }));
  const draw = () => {
    const rows = [...ns.values()].map((n) => {
      const mine = [...pods.values()].filter((p) => p.spec.nodeName === n.metadata.name && !['Succeeded', 'Failed'].includes(p.status.phase));
      const req = mine.flatMap((p) => p.spec.containers).reduce((a, c) => {
        const r = (c.resources && c.resources.requests) || {};
        return { cpu: a.cpu + cpu(r.cpu), mem: a.mem + bytes(r.memory) };
      }, { cpu: 0, mem: 0 });
      const alloc = { cpu: cpu(n.status.allocatable.cpu), mem: bytes(n.status.allocatable.memory) };
      const u = usage && usage.get(n.metadata.name);
      const ready = (n.status.conditions || []).find((c) => c.type === 'Ready');
      return el('tr', {}, el('td', {}, link(K.nodes, n)), el('td', { class: ready && ready.status === 'True' ? 'ok' : 'err' }, ready && ready.status === 'True' ? 'Ready' : 'NotReady'),
        el('td', {}, `${n.status.capacity.cpu} / ${milli(alloc.cpu)}`), el('td', {}, `${mib(bytes(n.status.capacity.memory))} / ${mib(alloc.mem)}`),
        el('td', {}, meter(req.cpu, alloc.cpu), ` ${milli(req.cpu)}`), el('td', {}, meter(req.mem, alloc.mem), ` ${mib(req.mem)}`),
        el('td', {}, u ? [meter(cpu(u.usage.cpu), alloc.cpu), ` ${milli(cpu(u.usage.cpu))}`] : '—'),
        el('td', {}, u ? [meter(bytes(u.usage.memory), alloc.mem), ` ${mib(bytes(u.usage.memory))}`] : '—'),
        el('td', {}, `${mine.length} / ${n.status.allocatable.pods}`));
    });
    const hint = metricsError ? el('div', { class: 'msg', id: 'metrics-hint' }, 'CPU and memory usage need metrics-server. ',
      el('button', { id: 'enable-metrics', onclick: (e) => { e.target.disabled = true; switchAddon('metrics-server', true).then(poll).catch(() => { e.target.disabled = false; }); } }, 'Enable metrics-server'),
      ' (or run ', el('code', {}, 'rkube addons enable metrics-server'), ')') : '';
    const top = podUsage ? [...podUsage.values()].map((p) => ({ p, cpu: p.containers.reduce((a, c) => a + cpu(c.usage.cpu), 0), mem: p.containers.reduce((a, c) => a + bytes(c.usage.memory), 0) }))
      .sort((a, b) => b.mem - a.mem).slice(0, 15) : [];
    box.replaceChildren(hint, el('table', {}, el('thead', {}, el('tr', {}, ['Name', 'Status', 'CPU capacity / allocatable', 'Memory capacity / allocatable', 'CPU requests', 'Memory requests', 'CPU used', 'Memory used', 'Pods'].map((h) => el('th', {}, h)))),
      el('tbody', {}, rows)),
    top.length ? [el('h3', {}, 'Pods using the most memory'), el('table', {}, el('thead', {}, el('tr', {}, ['Namespace', 'Pod', 'CPU', 'Memory'].map((h) => el('th', {}, h)))),
      el('tbody', {}, top.map((t) => el('tr', {}, el('td', {}, t.p.metadata.namespace), el('td', {}, link(K.pods, t.p)), el('td', {}, milli(t.cpu)), el('td', {}, mib(t.mem))))))] : '');
  };
  watch(rpath(K.nodes), {}, (i) => { ns = i; draw(); });
  watch(rpath(K.pods), {}, (i) => { pods = i; draw(); });
  const poll = async () => {
    try {
      // Asked only when discovery shows the metrics API (an error for every poll otherwise).
      const groups = await api('/apis');
      if (!groups.groups.some((g) => g.name === 'metrics.k8s.io')) throw new Error('metrics.k8s.io is not served');
      const [n, p] = await Promise.all([api('/apis/metrics.k8s.io/v1beta1/nodes'), api('/apis/metrics.k8s.io/v1beta1/pods')]);
      usage = new Map(n.items.map((x) => [x.metadata.name, x]));
      podUsage = new Map(p.items.map((x) => [key(x), x]));
      metricsError = null;
    } catch (e) { usage = null; podUsage = null; metricsError = e; }
    draw();
  };
  poll();
  page.timers.push(setInterval(poll, 15000));
}

// ---------- Addons (switched by `rkube dashboard`'s own endpoint) ----------
const ADDONS = '/rkube/v1/addons';
async function switchAddon(name, on) {
  toast(`${on ? 'Enabling' : 'Disabling'} ${name}…`);
  try {
    await api(`${ADDONS}/${encodeURIComponent(name)}`, { method: 'POST', body: { enabled: on } });
    toast(`The '${name}' addon is ${on ? 'enabled' : 'disabled'}`);
  } catch (e) {
    toast(e.code === 404 ? `Addons are switched by "rkube addons ${on ? 'enable' : 'disable'} ${name}" (this proxy cannot run rkube).` : e.message, true);
    throw e;
  }
}
function addons() {
  const m = main();
  const box = el('div', {}, el('p', { class: 'muted' }, 'Loading…'));
  m.replaceChildren(el('h1', {}, 'Addons'), box);
  const load = async () => {
    try {
      const list = await api(ADDONS);
      box.replaceChildren(el('table', {}, el('thead', {}, el('tr', {}, ['Addon', 'Description', 'Status', ''].map((h) => el('th', {}, h)))),
        el('tbody', {}, list.map((a) => el('tr', { 'data-name': a.name }, el('td', {}, a.name), el('td', { class: 'wrap' }, a.description),
          el('td', { class: a.enabled ? 'ok' : 'muted' }, a.enabled ? 'enabled' : 'disabled'),
          el('td', {}, el('button', { onclick: (e) => { e.target.disabled = true; switchAddon(a.name, !a.enabled).finally(load); } }, a.enabled ? 'Disable' : 'Enable')))))));
    } catch (e) {
      box.replaceChildren(el('div', { class: 'msg' }, e.code === 404
        ? 'This page was opened through a proxy that cannot switch addons (such as kubectl proxy). Use "rkube addons list|enable|disable", or open the dashboard with "rkube dashboard".'
        : e.message));
    }
  };
  load();
}

// ---------- Create from pasted YAML ----------
// Only the fields that place a document are read here (apiVersion, kind, metadata.name and
// metadata.namespace); the server parses the whole document.
function placement(doc) {
  const out = {};
  let inMeta = false; let metaIndent = -1;
  const unq = (v) => v.replace(/\s+#.*$/, '').trim().replace(/^(['"])(.*)\1$/, '$2');
  for (const line of doc.split('\n')) {
    if (/^\s*(#|$)/.test(line)) continue;
    const m = line.match(/^(\s*)([A-Za-z]+):\s*(.*)$/);
    if (!m) continue;
    const indent = m[1].length;
    if (indent === 0) {
      inMeta = m[2] === 'metadata';
      metaIndent = -1;
      if (m[2] === 'apiVersion' || m[2] === 'kind') out[m[2]] = unq(m[3]);
    } else if (inMeta) {
      if (metaIndent < 0) metaIndent = indent;
      if (indent === metaIndent && ['name', 'namespace', 'generateName'].includes(m[2])) out[m[2]] = unq(m[3]);
    }
  }
  return out;
}
function create() {
  const m = main();
  const area = el('textarea', { spellcheck: 'false', 'aria-label': 'YAML to create', id: 'create-yaml', placeholder: 'Paste one or more YAML documents, separated by ---' });
  const out = el('ul', { id: 'create-result' });
  const go = async () => {
    out.replaceChildren();
    const docs = area.value.split(/^---\s*$/m).filter((d) => d.replace(/^\s*#.*$/gm, '').trim());
    if (!state.kinds.length) await discover();
    for (const doc of docs) {
      const p = placement(doc);
      const [group, version] = (p.apiVersion || '').includes('/') ? p.apiVersion.split('/') : ['', p.apiVersion];
      const kind = state.kinds.find((k) => k.kind === p.kind && k.group === group);
      const label = `${p.kind || '?'} ${p.name || p.generateName || ''}`;
      if (!kind) { out.append(el('li', { class: 'err' }, `${label}: unknown kind ${p.apiVersion}/${p.kind}`)); continue; }
      const ns = kind.namespaced ? (p.namespace || state.ns || 'default') : '';
      try {
        await api(rpath({ ...kind, version: version || kind.version }, ns), { method: 'POST', type: 'application/yaml', body: doc });
        out.append(el('li', { class: 'ok' }, `${label} created${ns ? ` in ${ns}` : ''}`));
      } catch (e) {
        out.append(el('li', { class: 'err' }, `${label}: ${e.message}`));
      }
    }
  };
  m.replaceChildren(el('h1', {}, 'Create from YAML'), el('div', { class: 'bar' }, el('button', { class: 'primary', id: 'create', onclick: go }, 'Create'),
    el('span', { class: 'muted' }, `Objects without a namespace go to ${state.ns || 'default'}.`)), out, area);
}

// ---------- routing ----------
function route() {
  leave();
  const [path, query] = (location.hash.slice(1) || '/').split('?');
  const params = new URLSearchParams(query || '');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const g = (x) => (x === 'core' ? '' : x);
  markNav();
  try {
    if (!parts.length) overview();
    else if (parts[0] === 'r' && parts.length === 4) list(g(parts[1]), parts[2], parts[3]);
    else if (parts[0] === 'o' && parts.length === 6) details(g(parts[1]), parts[2], parts[3], parts[4], parts[5]);
    else if (parts[0] === 'logs' && parts.length === 3) logs(parts[1], parts[2], params);
    else if (parts[0] === 'exec' && parts.length === 3) exec(parts[1], parts[2], params).catch((e) => main().append(el('div', { class: 'msg bad' }, e.message)));
    else if (parts[0] === 'nodes') nodes();
    else if (parts[0] === 'addons') addons();
    else if (parts[0] === 'create') create();
    else main().replaceChildren(el('p', {}, 'No such page. ', el('a', { href: '#/' }, 'Overview')));
  } catch (e) {
    main().replaceChildren(el('div', { class: 'msg bad' }, e.message));
  }
}

window.addEventListener('hashchange', route);
initNamespaces();
route();
(async () => {
  for (let delay = 500; ; delay = Math.min(delay * 2, 5000)) {
    try { await discover(); return; } catch (e) { setConn(e); await sleep(delay); }
  }
})();
