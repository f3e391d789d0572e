// Shared by every page of the console: the API client (session cookie +
// CSRF header), the French/English strings, DOM building through
// textContent only (mail text never becomes markup), times and countdowns.
'use strict';

const T = {
  en: {
    appName: 'Support console', queue: 'Queue', manager: 'Reports', logout: 'Sign out',
    login: 'Sign in', email: 'E-mail', password: 'Password', wrongLogin: 'Wrong e-mail address or password.',
    search: 'Search tickets…', status: 'Status', allStatuses: 'All', active: 'Active',
    allQueues: 'All queues', queueCol: 'Queue', subject: 'Subject', requester: 'Customer',
    category: 'Category', sentiment: 'Mood', priority: 'Priority', due: 'SLA due',
    breached: 'breached', paused: 'paused', overdue: 'overdue by', inTime: 'in', none: '—',
    prev: 'Previous', next: 'Next', page: 'Page', newTickets: 'new ticket(s)', noTickets: 'No ticket matches.',
    thread: 'Conversation', received: 'received', sent: 'sent', attachments: 'attachment(s)',
    cc: 'cc', replyAll: 'Reply to all (the people in To and Cc of the last mail)', note: 'internal note', noteLabel: 'Internal note (for agents, never sent)', addNote: 'Add the note',
    whyCategory: 'Why this category', confidence: 'confidence', sentimentWhy: 'Mood of the customer',
    suggestions: 'Suggested replies', useDraft: 'Use', reject: 'Reject', reason: 'Why is it wrong?',
    draft: 'Reply', approve: 'Approve and send', sendReply: 'Send reply',
    rejected: 'rejected', approved: 'approved', edited: 'sent after edits', proposed: 'proposed',
    recategorise: 'Recategorise', assignee: 'Assignee', assignMe: 'Assign to me', unassigned: 'unassigned',
    markSpam: 'This is spam', markNotSpam: 'Not spam: a customer’s mail',
    mergeLabel: 'Merge into ticket #', merge: 'Merge', mergedInto: 'merged into', movedFrom: 'moved from',
    mergedNoAction: 'This ticket was merged: act on #%1', mergedApart: 'merged into another ticket, counted there:',
    mergeWhich: 'Give the number of the ticket to merge into.',
    mergeConfirm: 'Move the mails of #%1 into #%2 and close #%1?',
    save: 'Save', events: 'History', sla: 'SLA clocks', queued: 'Reply queued for sending.',
    saved: 'Saved.', shortcuts: 'Shortcuts', backToQueue: 'Back to the queue',
    keys: '1–9 use a suggestion · e edit the reply · Ctrl+Enter send · r reject the suggestion in use · s status · u back to the queue · / search · j/k move · Enter open',
    period: 'Period', from: 'From', to: 'To', by: 'Grouped by', nothing: 'no grouping', show: 'Show',
    receivedN: 'Received', spamApart: 'closed as spam, not counted:', answered: 'Answered', resolved: 'Resolved', backlog: 'Backlog',
    oldest: 'oldest', acceptance: 'Suggestion acceptance', breachesOpen: 'Breaches to look at',
    charts: 'Charts', target: 'Target', policy: 'Policy', forbidden: 'Reports are for managers.',
    firstResponse: 'First response (median)', resolution: 'Resolution (median)', ticket: 'Ticket',
    lang: 'Français', error: 'Error', empty: 'The reply is empty.', needReason: 'A rejection needs a reason.',
    spam: 'spam', tags: 'Tags', language: 'Language', statusName: {new: 'new', open: 'open', pending: 'pending', resolved: 'resolved', closed: 'closed'},
    priorityName: {low: 'low', normal: 'normal', high: 'high', urgent: 'urgent'},
    moodName: {negative: 'negative', neutral: 'neutral', positive: 'positive'},
  },
  fr: {
    appName: 'Console du support', queue: 'File', manager: 'Rapports', logout: 'Se déconnecter',
    login: 'Se connecter', email: 'Adresse e-mail', password: 'Mot de passe', wrongLogin: 'Adresse ou mot de passe incorrect.',
    search: 'Rechercher…', status: 'Statut', allStatuses: 'Tous', active: 'Actifs',
    allQueues: 'Toutes les files', queueCol: 'File', subject: 'Objet', requester: 'Client',
    category: 'Catégorie', sentiment: 'Humeur', priority: 'Priorité', due: 'Échéance SLA',
    breached: 'dépassé', paused: 'en pause', overdue: 'en retard de', inTime: 'dans', none: '—',
    prev: 'Précédent', next: 'Suivant', page: 'Page', newTickets: 'nouveau(x) ticket(s)', noTickets: 'Aucun ticket ne correspond.',
    thread: 'Échanges', received: 'reçu', sent: 'envoyé', attachments: 'pièce(s) jointe(s)',
    cc: 'copie à', replyAll: 'Répondre à tous (destinataires et copies du dernier message)', note: 'note interne', noteLabel: 'Note interne (pour l’équipe, jamais envoyée)', addNote: 'Ajouter la note',
    whyCategory: 'Pourquoi cette catégorie', confidence: 'confiance', sentimentWhy: 'Humeur du client',
    suggestions: 'Réponses proposées', useDraft: 'Utiliser', reject: 'Rejeter', reason: 'Pourquoi ne convient-elle pas ?',
    draft: 'Réponse', approve: 'Approuver et envoyer', sendReply: 'Envoyer la réponse',
    rejected: 'rejetée', approved: 'approuvée', edited: 'envoyée après modification', proposed: 'proposée',
    recategorise: 'Changer de catégorie', assignee: 'Attribué à', assignMe: 'Me l’attribuer', unassigned: 'personne',
    markSpam: 'C’est un spam', markNotSpam: 'Pas un spam : un message client',
    mergeLabel: 'Fusionner dans le ticket n°', merge: 'Fusionner', mergedInto: 'fusionné dans', movedFrom: 'venu du',
    mergedNoAction: 'Ce ticket a été fusionné : agissez sur le n°%1', mergedApart: 'fusionnés dans un autre ticket, comptés là :',
    mergeWhich: 'Indiquez le numéro du ticket dans lequel fusionner.',
    mergeConfirm: 'Déplacer les messages du n°%1 dans le n°%2 et fermer le n°%1 ?',
    save: 'Enregistrer', events: 'Historique', sla: 'Délais SLA', queued: 'Réponse mise en file d’envoi.',
    saved: 'Enregistré.', shortcuts: 'Raccourcis', backToQueue: 'Retour à la file',
    keys: '1–9 utiliser une proposition · e modifier la réponse · Ctrl+Entrée envoyer · r rejeter la proposition utilisée · s statut · u retour à la file · / recherche · j/k se déplacer · Entrée ouvrir',
    period: 'Période', from: 'Du', to: 'Au', by: 'Regroupé par', nothing: 'sans regroupement', show: 'Afficher',
    receivedN: 'Reçus', spamApart: 'classés spam, non comptés :', answered: 'Répondus', resolved: 'Résolus', backlog: 'En attente',
    oldest: 'le plus ancien', acceptance: 'Acceptation des propositions', breachesOpen: 'Dépassements à regarder',
    charts: 'Graphiques', target: 'Objectif', policy: 'Politique', forbidden: 'Les rapports sont réservés aux responsables.',
    firstResponse: 'Première réponse (médiane)', resolution: 'Résolution (médiane)', ticket: 'Ticket',
    lang: 'English', error: 'Erreur', empty: 'La réponse est vide.', needReason: 'Un rejet demande une raison.',
    spam: 'spam', tags: 'Étiquettes', language: 'Langue', statusName: {new: 'nouveau', open: 'ouvert', pending: 'en attente', resolved: 'résolu', closed: 'fermé'},
    priorityName: {low: 'basse', normal: 'normale', high: 'haute', urgent: 'urgente'},
    moodName: {negative: 'négative', neutral: 'neutre', positive: 'positive'},
  },
};

function pickLang() {
  const saved = localStorage.getItem('lang');
  if (saved === 'fr' || saved === 'en') return saved;
  const langs = navigator.languages || [navigator.language || 'en'];
  for (const l of langs) {
    if (l.toLowerCase().startsWith('fr')) return 'fr';
    if (l.toLowerCase().startsWith('en')) return 'en';
  }
  return 'en';
}

const LANG = pickLang();
const t = (key) => (T[LANG][key] !== undefined ? T[LANG][key] : T.en[key]);
document.documentElement.lang = LANG;

// el('div', {class: 'x', onclick: fn}, 'text', child...): never innerHTML.
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function clear(node) {
  while (node.firstChild) node.removeChild(node.firstChild);
  return node;
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

const session = { csrf: null, agent: null };

async function api(method, path, body) {
  const opts = { method, headers: {}, credentials: 'same-origin' };
  if (method !== 'GET') {
    opts.headers['X-CSRF-Token'] = session.csrf || '';
    opts.headers['Content-Type'] = 'application/json';
    opts.body = JSON.stringify(body || {});
  }
  const r = await fetch('/api/v1/' + path, opts);
  let data = null;
  try { data = await r.json(); } catch (e) { data = null; }
  if (r.status === 401 && path !== 'login') {
    location.href = '/login.html?next=' + encodeURIComponent(location.pathname + location.search);
    throw new ApiError(401, 'signed out');
  }
  if (!r.ok) throw new ApiError(r.status, (data && data.error) || (t('error') + ' ' + r.status));
  return data;
}

// The signed-in agent and the CSRF token, or off to the login page.
async function requireSession() {
  const s = await api('GET', 'session');
  session.csrf = s.csrf;
  session.agent = s.agent;
  return s;
}

function fmtTime(epoch) {
  if (!epoch) return t('none');
  return new Date(epoch * 1000).toLocaleString(LANG === 'fr' ? 'fr-FR' : 'en-GB',
    { dateStyle: 'short', timeStyle: 'short' });
}

function fmtDuration(seconds) {
  const s = Math.abs(Math.round(seconds));
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  if (d > 0) return d + (LANG === 'fr' ? ' j ' : 'd ') + h + ' h';
  if (h > 0) return h + ' h ' + String(m).padStart(2, '0');
  return m + ' min';
}

// "in 2 h 05" / "overdue by 12 min", against the server's clock.
function countdown(due, serverNow) {
  if (!due) return t('none');
  const now = serverNow + (Date.now() / 1000 - PAGE_LOADED_AT);
  const left = due - now;
  return left >= 0 ? t('inTime') + ' ' + fmtDuration(left) : t('overdue') + ' ' + fmtDuration(left);
}
let PAGE_LOADED_AT = Date.now() / 1000;
function resetClock() { PAGE_LOADED_AT = Date.now() / 1000; }

function flash(message, kind) {
  const box = document.getElementById('flash');
  if (!box) return;
  clear(box).append(el('div', { class: 'flash ' + (kind || 'info'), role: 'status' }, message));
  setTimeout(() => clear(box), 5000);
}

// The header bar of every signed-in page.
function header(active) {
  const nav = el('nav', { class: 'top' },
    el('span', { class: 'brand' }, t('appName')),
    el('a', { href: '/', class: active === 'queue' ? 'active' : '' }, t('queue')));
  if (session.agent && (session.agent.role === 'manager' || session.agent.role === 'admin'))
    nav.append(el('a', { href: '/manager.html', class: active === 'manager' ? 'active' : '' }, t('manager')));
  nav.append(el('span', { class: 'spacer' }),
    el('span', { class: 'who' }, session.agent ? session.agent.name : ''),
    el('button', { type: 'button', class: 'link', id: 'lang-switch', onclick: () => {
      localStorage.setItem('lang', LANG === 'fr' ? 'en' : 'fr');
      location.reload();
    } }, t('lang')),
    el('button', { type: 'button', class: 'link', id: 'logout', onclick: async () => {
      try { await api('POST', 'logout'); } finally { location.href = '/login.html'; }
    } }, t('logout')));
  const h = document.getElementById('header');
  clear(h).append(nav);
}

function badge(text, kind) {
  return el('span', { class: 'badge ' + (kind || '') }, text);
}

function statusName(s) { return (t('statusName') || {})[s] || s; }
function priorityName(p) { return (t('priorityName') || {})[p] || p; }
function moodName(m) { return (t('moodName') || {})[m] || m || t('none'); }

// Keys typed in a field are the field's, not shortcuts.
function typing(ev) {
  const tag = (ev.target && ev.target.tagName) || '';
  return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || ev.target.isContentEditable;
}
