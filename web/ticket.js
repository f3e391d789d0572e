// One ticket: the thread as text, "why this category" in words, mood, SLA
// clocks, the suggested replies beside an editable draft (approve, edit,
// reject with a reason), internal notes, recategorise, spam or not,
// reassign, status and priority.
// Everything from a mail is put in the page with textContent.
'use strict';

const id = parseInt(new URLSearchParams(location.search).get('id') || '', 10);
const draftState = { rank: 0, original: null };
let ticket = null;
let meta = null;

function setText(elementId, text) { document.getElementById(elementId).textContent = text; }

function renderSummary(tk) {
  setText('subject', '#' + tk.id + ' ' + (tk.subject || ''));
  const s = clear(document.getElementById('summary'));
  s.append(el('span', {}, (tk.requester_name ? tk.requester_name + ' <' + tk.requester + '>' : tk.requester || '')), ' · ',
    badge(statusName(tk.status)), ' ', badge(priorityName(tk.priority), 'prio-' + tk.priority), ' ',
    el('span', {}, t('queueCol') + ': ' + (tk.queue || t('none'))), ' · ',
    el('span', {}, t('category') + ': ' + (tk.category || t('none'))), ' · ',
    el('span', {}, t('assignee') + ': ' + (tk.assignee || t('unassigned'))));
  if (tk.breached) s.append(' ', badge(t('breached'), 'breach'));
  if (tk.tags && tk.tags.length) s.append(' · ', el('span', { class: 'muted' }, t('tags') + ': ' + tk.tags.join(', ')));
  if (tk.merged_into) {
    s.append(' · ', el('a', { href: 'ticket.html?id=' + tk.merged_into }, t('mergedInto') + ' #' + tk.merged_into));
  }
}

// The same customer's request written twice: this ticket's mails move to
// the other one (the server refuses another customer's ticket).
async function merge() {
  const into = Number(document.getElementById('merge-into').value.trim());
  if (!Number.isSafeInteger(into) || into < 1) { flash(t('mergeWhich'), 'error'); return; }
  if (!window.confirm(t('mergeConfirm').replaceAll('%1', id).replaceAll('%2', into))) return;
  try {
    await api('POST', 'tickets/' + id + '/merge', { into });
    flash(t('saved'));
    window.location.href = 'ticket.html?id=' + into;
  } catch (e) {
    flash(e.message, 'error');
  }
}

function renderThread(tk) {
  const box = clear(document.getElementById('thread'));
  // The mails and the agents' internal notes, in the order they came.
  const items = tk.messages.map((m) => ({ at: m.received || m.date, mail: m }))
    .concat(tk.events.filter((e) => e.kind === 'note').map((e) => ({ at: e.at, note: e })));
  items.sort((a, b) => a.at - b.at);
  for (const it of items) {
    if (it.note) {
      const n = it.note;
      box.append(el('article', { class: 'mail note' },
        el('div', { class: 'mail-head' }, el('strong', {}, n.actor), ' · ', fmtTime(n.at), ' · ', t('note')),
        el('pre', { class: 'mail-text' }, (n.detail && n.detail.text) || '')));
      continue;
    }
    const m = it.mail;
    const head = el('div', { class: 'mail-head' },
      el('strong', {}, m.from_name ? m.from_name + ' <' + (m.from || '') + '>' : m.from || ''),
      ' · ', fmtTime(m.date || m.received), ' · ', m.direction === 'out' ? t('sent') : t('received'));
    if (m.attachments) head.append(' · ' + m.attachments + ' ' + t('attachments'));
    if (m.cc) head.append(' · ' + t('cc') + ' ' + m.cc);
    if (m.merged_from) head.append(' · ' + t('movedFrom') + ' #' + m.merged_from);
    box.append(el('article', { class: 'mail ' + (m.direction === 'out' ? 'out' : 'in') }, head,
      m.subject ? el('div', { class: 'mail-subject' }, m.subject) : null,
      el('pre', { class: 'mail-text' }, m.text || m.full_text || '')));
  }
}

async function addNote() {
  if (ticket && ticket.merged_into) { flash(t('mergedNoAction').replaceAll('%1', ticket.merged_into), 'error'); return; }
  const text = document.getElementById('note').value;
  if (!text.trim()) { flash(t('empty'), 'error'); return; }
  try {
    await api('POST', 'tickets/' + id + '/note', { text });
    document.getElementById('note').value = '';
    flash(t('saved'));
    await load();
  } catch (e) {
    flash(e.message, 'error');
  }
}

function renderWhy(tk) {
  const box = clear(document.getElementById('why'));
  const cat = tk.triage.filter((d) => d.task === 'category').pop();
  if (cat) {
    box.append(el('p', {}, el('strong', {}, cat.label || t('none')), ' — ' + t('confidence') + ' ' + Math.round(cat.confidence * 100) + ' %'),
      el('p', { class: 'explanation' }, cat.explanation || ''));
  }
  const mood = tk.triage.filter((d) => d.task === 'sentiment').pop();
  if (mood) {
    box.append(el('h3', {}, t('sentimentWhy')),
      el('p', {}, badge(moodName(mood.label), 'mood-' + mood.label), ' ' + (mood.score >= 0 ? '+' : '') + mood.score.toFixed(2)),
      el('p', { class: 'explanation' }, mood.explanation || ''));
  }
  const spam = tk.triage.filter((d) => d.task === 'spam').pop();
  if (spam && tk.spam) box.append(el('p', { class: 'explanation' }, spam.explanation || ''));
}

function renderSla(tk) {
  const ul = clear(document.getElementById('sla'));
  for (const c of tk.sla) {
    const li = el('li', {}, el('strong', {}, c.target.replace('_', ' ')), ' (' + c.policy + ') ');
    if (c.closed_at) li.append(el('span', { class: 'muted' }, c.state + ' ' + fmtTime(c.closed_at)));
    else li.append(countdown(c.due, tk.now));
    if (c.breached_at || (c.state === 'running' && c.due <= tk.now)) li.append(' ', badge(t('breached'), 'breach'));
    if (c.state === 'paused') li.append(' ', badge(t('paused'), 'paused'));
    ul.append(li);
  }
  if (!tk.sla.length) ul.append(el('li', { class: 'muted' }, t('none')));
}

function useSuggestion(s) {
  draftState.rank = s.rank;
  draftState.original = s.draft || '';
  const d = document.getElementById('draft');
  d.value = s.draft || '';
  d.focus();
  updateSendLabel();
  renderSuggestions(ticket);
}

function updateSendLabel() {
  setText('send', draftState.rank ? t('approve') + ' (' + draftState.rank + ')' : t('sendReply'));
}

function renderSuggestions(tk) {
  const ol = clear(document.getElementById('suggestions'));
  for (const s of tk.suggestions) {
    const open = s.status === 'proposed';
    const reason = el('input', { type: 'text', class: 'reason', placeholder: t('reason'), 'aria-label': t('reason') });
    const reject = el('button', { type: 'button', class: 'reject', disabled: !open, onclick: async () => {
      if (!reason.value.trim()) { reason.classList.add('shown'); reason.focus(); flash(t('needReason'), 'error'); return; }
      try {
        await api('POST', 'tickets/' + id + '/suggestions/' + s.rank + '/reject', { reason: reason.value });
        if (draftState.rank === s.rank) { draftState.rank = 0; draftState.original = null; updateSendLabel(); }
        flash(t('saved'));
        await load();
      } catch (e) { flash(e.message, 'error'); }
    } }, t('reject'));
    reason.addEventListener('keydown', (ev) => { if (ev.key === 'Enter') reject.click(); });
    const li = el('li', { class: 'suggestion' + (draftState.rank === s.rank ? ' in-use' : '') + (open ? '' : ' decided'), 'data-rank': s.rank },
      el('div', {}, el('strong', {}, s.rank + '. ' + (s.title || s.ref)), ' ',
        el('span', { class: 'muted' }, s.kind + ' · ' + s.score.toFixed(2)), ' ', badge(t(s.status) || s.status, 'sugg-' + s.status)),
      s.reason ? el('div', { class: 'muted' }, '« ' + s.reason + ' »') : null,
      el('pre', { class: 'draft-preview' }, (s.draft || '').slice(0, 400)),
      open ? el('div', { class: 'inline' },
        el('button', { type: 'button', class: 'use', onclick: () => useSuggestion(s) }, t('useDraft') + ' (' + s.rank + ')'),
        reason, reject) : null);
    ol.append(li);
  }
}

function renderEvents(tk) {
  const ol = clear(document.getElementById('events'));
  for (const e of tk.events.slice().reverse()) {
    const detail = e.detail && typeof e.detail === 'object' ? JSON.stringify(e.detail) : '';
    ol.append(el('li', {}, el('span', { class: 'muted' }, fmtTime(e.at)), ' ', el('strong', {}, e.kind), ' ',
      el('span', {}, e.actor), ' ', el('code', {}, detail.length > 300 ? detail.slice(0, 300) + '…' : detail)));
  }
}

function fillSelect(select, values, current, label) {
  clear(select);
  for (const v of values) select.append(el('option', { value: v, selected: v === current }, label ? label(v) : v));
  if (current && !values.includes(current)) select.append(el('option', { value: current, selected: true }, current));
}

function renderActions(tk) {
  fillSelect(document.getElementById('set-status'), meta.statuses, tk.status, statusName);
  fillSelect(document.getElementById('set-priority'), meta.priorities, tk.priority, priorityName);
  fillSelect(document.getElementById('set-queue'), meta.queues, tk.queue);
  fillSelect(document.getElementById('set-category'), meta.categories, tk.category);
  document.getElementById('set-assignee').value = tk.assignee || '';
  // The verdict to give is the other one: the model learns it either way.
  setText('set-spam', tk.spam ? t('markNotSpam') : t('markSpam'));
  // A merged ticket takes no more actions (the server refuses them): the
  // work is in the ticket it was merged into.
  const merged = Boolean(tk.merged_into);
  document.getElementById('actions').hidden = merged;
  document.getElementById('send').disabled = merged;
}

async function load() {
  ticket = await api('GET', 'tickets/' + id);
  resetClock();
  renderSummary(ticket);
  renderThread(ticket);
  renderWhy(ticket);
  renderSla(ticket);
  renderSuggestions(ticket);
  renderEvents(ticket);
  renderActions(ticket);
  document.title = '#' + ticket.id + ' — triaged';
}

async function change(field, value) {
  try {
    await api('POST', 'tickets/' + id + '/' + field, { [field]: value });
    flash(t('saved'));
  } catch (e) {
    flash(e.message, 'error');
  }
  await load();
}

async function send() {
  // Ctrl+Enter reaches here even with the button disabled.
  if (ticket && ticket.merged_into) { flash(t('mergedNoAction').replaceAll('%1', ticket.merged_into), 'error'); return; }
  const text = document.getElementById('draft').value;
  if (!text.trim()) { flash(t('empty'), 'error'); return; }
  const body = { text, reply_all: document.getElementById('reply-all').checked };
  if (draftState.rank) { body.suggestion = draftState.rank; body.draft = draftState.original; }
  try {
    await api('POST', 'tickets/' + id + '/reply', body);
    document.getElementById('draft').value = '';
    draftState.rank = 0;
    draftState.original = null;
    updateSendLabel();
    flash(t('queued'));
    await load();
  } catch (e) {
    flash(e.message, 'error');
  }
}

async function init() {
  await requireSession();
  header('');
  meta = await api('GET', 'meta');
  setText('back', '← ' + t('backToQueue'));
  setText('thread-title', t('thread'));
  setText('events-title', t('events'));
  setText('why-title', t('whyCategory'));
  setText('sla-title', t('sla'));
  setText('suggestions-title', t('suggestions'));
  setText('draft-label', t('draft'));
  setText('note-label', t('noteLabel'));
  setText('reply-all-label', t('replyAll'));
  setText('note-add', t('addNote'));
  setText('l-status', t('status'));
  setText('l-priority', t('priority'));
  setText('l-queue', t('queueCol'));
  setText('l-category', t('recategorise'));
  setText('l-assignee', t('assignee'));
  setText('assign-save', t('save'));
  setText('assign-me', t('assignMe'));
  setText('l-merge', t('mergeLabel'));
  setText('merge', t('merge'));
  setText('keys', t('shortcuts') + ': ' + t('keys'));
  updateSendLabel();
  document.getElementById('send').addEventListener('click', send);
  document.getElementById('note-add').addEventListener('click', addNote);
  document.getElementById('set-status').addEventListener('change', (ev) => change('status', ev.target.value));
  document.getElementById('set-priority').addEventListener('change', (ev) => change('priority', ev.target.value));
  document.getElementById('set-queue').addEventListener('change', (ev) => change('queue', ev.target.value));
  document.getElementById('set-category').addEventListener('change', (ev) => change('category', ev.target.value));
  document.getElementById('assign-save').addEventListener('click', () => change('assignee', document.getElementById('set-assignee').value.trim() || null));
  document.getElementById('assign-me').addEventListener('click', () => change('assignee', session.agent.email));
  document.getElementById('set-spam').addEventListener('click', () => change('spam', !ticket.spam));
  document.getElementById('merge').addEventListener('click', merge);
  document.getElementById('draft').addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); send(); }
    if (ev.key === 'Escape') ev.target.blur();
  });
  document.addEventListener('keydown', (ev) => {
    if (typing(ev) || ev.ctrlKey || ev.metaKey || ev.altKey || !ticket) return;
    if (/^[1-9]$/.test(ev.key)) {
      const s = ticket.suggestions.find((x) => x.rank === Number(ev.key) && x.status === 'proposed');
      if (s) { ev.preventDefault(); useSuggestion(s); }
    } else if (ev.key === 'e') { ev.preventDefault(); document.getElementById('draft').focus(); }
    else if (ev.key === 'r' && draftState.rank) {
      ev.preventDefault();
      const li = document.querySelector('li.suggestion[data-rank="' + draftState.rank + '"] input.reason');
      if (li) { li.classList.add('shown'); li.focus(); }
    } else if (ev.key === 's') { ev.preventDefault(); document.getElementById('set-status').focus(); }
    else if (ev.key === 'u') location.href = '/';
  });
  if (!Number.isInteger(id) || id < 1) { flash(t('error'), 'error'); return; }
  try { await load(); } catch (e) { if (e.status !== 401) flash(e.message, 'error'); }
}

init();
