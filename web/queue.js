// The queue: tickets most urgent first (SLA due time), with category and
// confidence, mood, priority, a countdown and breach badges; filters and
// full-text search; polled every few seconds so that new tickets appear.
'use strict';

const POLL_MS = 4000;
const state = { page: 1, perPage: 50, seen: null, selected: 0, tickets: [], now: 0, hasMore: false };

function filtersFromUrl() {
  const p = new URLSearchParams(location.search);
  document.getElementById('q').value = p.get('q') || '';
  document.getElementById('status').value = p.get('status') || 'active';
  document.getElementById('queue').value = p.get('queue') || '';
  state.page = Math.max(1, parseInt(p.get('page') || '1', 10) || 1);
}

function query() {
  const p = new URLSearchParams();
  const q = document.getElementById('q').value.trim();
  const status = document.getElementById('status').value;
  const queue = document.getElementById('queue').value;
  if (q) p.set('q', q);
  if (status) p.set('status', status);
  if (queue) p.set('queue', queue);
  p.set('sort', 'due');
  p.set('page', state.page);
  p.set('per_page', state.perPage);
  return p;
}

function row(tk, index) {
  const conf = tk.category ? Math.round(tk.category_confidence * 100) + ' %' : '';
  const due = el('td', { class: 'due' }, countdown(tk.due, state.now));
  if (tk.breached) due.append(' ', badge(t('breached'), 'breach'));
  if (tk.sla_paused) due.append(' ', badge(t('paused'), 'paused'));
  const tr = el('tr', {
    class: (index === state.selected ? 'selected ' : '') + (tk.breached ? 'is-breached' : ''),
    'data-id': tk.id,
    onclick: () => { location.href = '/ticket.html?id=' + tk.id; },
  },
  el('td', { class: 'num' }, '#' + tk.id),
  el('td', { class: 'subject' }, el('a', { href: '/ticket.html?id=' + tk.id }, tk.subject || t('none')),
    tk.spam ? badge(t('spam'), 'spam') : null),
  el('td', {}, tk.requester_name || tk.requester || ''),
  el('td', {}, tk.category || t('none'), conf ? el('span', { class: 'muted' }, ' ' + conf) : null),
  el('td', {}, badge(moodName(tk.sentiment_label), 'mood-' + (tk.sentiment_label || 'none'))),
  el('td', {}, badge(priorityName(tk.priority), 'prio-' + tk.priority)),
  el('td', {}, statusName(tk.status)),
  el('td', {}, tk.queue || ''),
  due);
  return tr;
}

function render() {
  const rows = clear(document.getElementById('rows'));
  state.tickets.forEach((tk, i) => rows.append(row(tk, i)));
  document.getElementById('empty').textContent = state.tickets.length ? '' : t('noTickets');
  document.getElementById('page').textContent = t('page') + ' ' + state.page;
  document.getElementById('prev').disabled = state.page <= 1;
  document.getElementById('next').disabled = !state.hasMore;
}

async function load(fromPoll) {
  try {
    const r = await api('GET', 'tickets?' + query().toString());
    resetClock();
    state.now = r.now;
    state.hasMore = r.has_more;
    const ids = new Set(r.tickets.map((tk) => tk.id));
    if (fromPoll && state.seen) {
      const fresh = [...ids].filter((id) => !state.seen.has(id)).length;
      if (fresh > 0) document.getElementById('new-count').textContent = '+' + fresh + ' ' + t('newTickets');
    }
    state.seen = ids;
    state.tickets = r.tickets;
    if (state.selected >= state.tickets.length) state.selected = Math.max(0, state.tickets.length - 1);
    render();
  } catch (e) {
    if (e.status !== 401) flash(e.message, 'error');
  }
}

function applyFilters() {
  state.page = 1;
  state.seen = null;
  document.getElementById('new-count').textContent = '';
  history.replaceState(null, '', '/?' + query().toString());
  load(false);
}

async function init() {
  await requireSession();
  header('queue');
  document.title = 'triaged — ' + t('queue');
  const cols = ['#', t('subject'), t('requester'), t('category'), t('sentiment'), t('priority'),
    t('status'), t('queueCol'), t('due')];
  const head = document.getElementById('columns');
  cols.forEach((c) => head.append(el('th', {}, c)));
  document.getElementById('q').placeholder = t('search');
  const status = document.getElementById('status');
  status.append(el('option', { value: 'active' }, t('active')), el('option', { value: '' }, t('allStatuses')));
  ['new', 'open', 'pending', 'resolved', 'closed'].forEach((s) => status.append(el('option', { value: s }, statusName(s))));
  const meta = await api('GET', 'meta');
  const queue = document.getElementById('queue');
  queue.append(el('option', { value: '' }, t('allQueues')));
  meta.queues.forEach((q) => queue.append(el('option', { value: q }, q)));
  document.getElementById('prev').textContent = t('prev');
  document.getElementById('next').textContent = t('next');
  document.getElementById('keys').textContent = t('shortcuts') + ': ' + t('keys');
  filtersFromUrl();
  let typingTimer = null;
  document.getElementById('q').addEventListener('input', () => {
    clearTimeout(typingTimer);
    typingTimer = setTimeout(applyFilters, 300);
  });
  document.getElementById('filters').addEventListener('submit', (ev) => { ev.preventDefault(); applyFilters(); });
  status.addEventListener('change', applyFilters);
  queue.addEventListener('change', applyFilters);
  document.getElementById('prev').addEventListener('click', () => { state.page--; state.seen = null; load(false); });
  document.getElementById('next').addEventListener('click', () => { state.page++; state.seen = null; load(false); });
  document.addEventListener('keydown', (ev) => {
    if (ev.key === 'Escape' && typing(ev)) { ev.target.blur(); return; }
    if (typing(ev) || ev.ctrlKey || ev.metaKey || ev.altKey) return;
    if (ev.key === '/') { ev.preventDefault(); document.getElementById('q').focus(); }
    else if (ev.key === 'j') { state.selected = Math.min(state.selected + 1, state.tickets.length - 1); render(); }
    else if (ev.key === 'k') { state.selected = Math.max(state.selected - 1, 0); render(); }
    else if (ev.key === 'Enter' && state.tickets[state.selected]) location.href = '/ticket.html?id=' + state.tickets[state.selected].id;
  });
  await load(false);
  setInterval(() => load(true), POLL_MS);
  // The countdowns move between polls too.
  setInterval(render, 30000);
}

init();
