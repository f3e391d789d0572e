// The manager's page: the SLA report of a period (volumes, response and
// resolution times, met and breached, backlog, suggestion acceptance), the
// open breaches to look at, and the report module's own SVG charts.
'use strict';

function isoDay(d) { return d.toISOString().slice(0, 10); }
function setText(elementId, text) { document.getElementById(elementId).textContent = text; }

function figure(label, value, sub) {
  return el('div', { class: 'figure' }, el('div', { class: 'value' }, value), el('div', { class: 'label' }, label),
    sub ? el('div', { class: 'muted' }, sub) : null);
}

function median(block) {
  return block && block.count ? fmtDuration(block.median_seconds || 0) : t('none');
}

// The charts come from our own server, drawn by the report module; they are
// parsed as XML (scripts never run there) and stripped of anything active
// all the same before they join the page.
function importSvg(text) {
  const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
  const root = doc.documentElement;
  if (!root || root.nodeName !== 'svg') return null;
  for (const bad of root.querySelectorAll('script, foreignObject, a, use, image')) bad.remove();
  for (const node of [root, ...root.querySelectorAll('*')]) {
    for (const a of [...node.attributes]) {
      if (/^on/i.test(a.name) || /href$/i.test(a.name) || a.name === 'style') node.removeAttribute(a.name);
    }
  }
  return document.importNode(root, true);
}

async function show() {
  const p = new URLSearchParams();
  p.set('from', document.getElementById('from').value);
  p.set('to', document.getElementById('to').value);
  if (document.getElementById('by').value) p.set('by', document.getElementById('by').value);
  let r;
  try {
    r = await api('GET', 'reports/sla?' + p.toString());
  } catch (e) {
    flash(e.status === 403 ? t('forbidden') : e.message, 'error');
    return;
  }
  resetClock();
  const tot = r.total || {};
  const figs = clear(document.getElementById('figures'));
  const sla = tot.sla || {};
  const metBreached = (k) => (sla[k] ? sla[k].met + ' / ' + sla[k].breached : t('none'));
  const acc = r.suggestions && r.suggestions.acceptance_rate !== null && r.suggestions.acceptance_rate !== undefined
    ? Math.round(r.suggestions.acceptance_rate * 100) + ' %' : t('none');
  figs.append(
    figure(t('receivedN'), tot.received || 0,
      [tot.spam ? t('spamApart') + ' ' + tot.spam : '', tot.merged ? t('mergedApart') + ' ' + tot.merged : '']
        .filter(Boolean).join('; ') || null),
    figure(t('answered'), tot.answered || 0),
    figure(t('resolved'), tot.resolved || 0),
    figure(t('backlog'), tot.backlog ? tot.backlog.count : 0,
      tot.backlog && tot.backlog.count ? t('oldest') + ' ' + fmtDuration(tot.backlog.oldest_age_seconds) : null),
    figure(t('firstResponse'), median(tot.first_response), 'SLA ✓/✗ ' + metBreached('first_response')),
    figure(t('resolution'), median(tot.resolution), 'SLA ✓/✗ ' + metBreached('resolution')),
    figure(t('acceptance'), acc, r.suggestions ? r.suggestions.approved + ' + ' + r.suggestions.edited + ' / ' +
      (r.suggestions.approved + r.suggestions.edited + r.suggestions.rejected) : null));
  const groups = clear(document.getElementById('groups'));
  if (r.groups && r.groups.length) {
    const table = el('table', { class: 'tickets' }, el('thead', {}, el('tr', {},
      el('th', {}, document.getElementById('by').value), el('th', {}, t('receivedN')), el('th', {}, t('answered')),
      el('th', {}, t('resolved')), el('th', {}, t('backlog')))));
    const body = el('tbody');
    for (const g of r.groups)
      body.append(el('tr', {}, el('td', {}, g.group || t('none')), el('td', {}, g.received), el('td', {}, g.answered),
        el('td', {}, g.resolved), el('td', {}, g.backlog ? g.backlog.count : 0)));
    table.append(body);
    groups.append(table);
  }
  const br = clear(document.getElementById('breaches'));
  for (const b of r.breaches_open || []) {
    br.append(el('tr', { class: 'is-breached' },
      el('td', {}, el('a', { href: '/ticket.html?id=' + b.ticket }, '#' + b.ticket)),
      el('td', {}, b.subject || ''), el('td', {}, b.queue || ''), el('td', {}, b.target.replace('_', ' ')),
      el('td', {}, badge(priorityName(b.priority), 'prio-' + b.priority)),
      el('td', {}, countdown(b.due, Date.now() / 1000))));
  }
  if (!(r.breaches_open || []).length) br.append(el('tr', {}, el('td', { class: 'muted' }, t('none'))));
  const charts = clear(document.getElementById('charts'));
  for (const svg of r.charts || []) {
    const node = importSvg(svg);
    if (node) charts.append(el('figure', { class: 'chart' }, node));
  }
}

async function init() {
  await requireSession();
  header('manager');
  document.title = 'triaged — ' + t('manager');
  setText('l-from', t('from'));
  setText('l-to', t('to'));
  setText('l-by', t('by'));
  setText('show', t('show'));
  setText('breaches-title', t('breachesOpen'));
  setText('charts-title', t('charts'));
  const by = document.getElementById('by');
  by.append(el('option', { value: '' }, t('nothing')));
  for (const g of ['queue', 'category', 'priority', 'assignee']) by.append(el('option', { value: g }, g));
  const now = new Date();
  document.getElementById('to').value = isoDay(now);
  document.getElementById('from').value = isoDay(new Date(now.getTime() - 29 * 86400 * 1000));
  document.getElementById('period').addEventListener('submit', (ev) => { ev.preventDefault(); show(); });
  await show();
}

init();
