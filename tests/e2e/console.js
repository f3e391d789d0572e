// The web console in a real browser (Debian's chromium through
// playwright-core): sign in, see the queue update by itself, open a ticket,
// approve a suggested reply with the keyboard, read a hostile mail that stays
// inert, read the manager's report; screenshots of the three pages.
// Run by tests/e2e/console.sh (which starts triaged and its servers).
'use strict';

const { chromium } = require('playwright-core');
const fs = require('fs');
const path = require('path');
const { execFileSync } = require('child_process');

const [base, work, artifacts, newMail, hostileSubjectWord] = process.argv.slice(2);
let passed = 0;
function ok(cond, what) {
  if (!cond) {
    console.error('not ok - ' + what);
    process.exit(1);
  }
  passed++;
  console.log('ok - ' + what);
}
const pw = (role) => fs.readFileSync(path.join(work, 'pw-' + role), 'utf8').trim();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function login(context, email, password) {
  const page = await context.newPage();
  await page.goto(base + '/');
  await page.waitForURL(/login\.html/);
  await page.fill('#email', email);
  await page.fill('#password', password);
  await page.click('#login-button');
  await page.waitForURL((u) => !u.pathname.endsWith('login.html'));
  return page;
}

(async () => {
  fs.mkdirSync(artifacts, { recursive: true });
  // A persistent context is how playwright takes a fresh --user-data-dir.
  const context = await chromium.launchPersistentContext(path.join(work, 'chromium-profile'), {
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    locale: 'fr-FR',
    viewport: { width: 1400, height: 900 },
  });
  // Every request the pages make, and anything that would show script ran.
  const requests = [];
  const dialogs = [];
  const cspViolations = [];
  // The one dialog a test expects (a confirmation naming this text) is
  // accepted; any other is recorded and dismissed.
  let expectConfirm = null;
  let confirmed = null;
  context.on('request', (r) => requests.push(r.url()));
  context.on('page', (p) => {
    p.on('dialog', (d) => {
      if (expectConfirm !== null && d.type() === 'confirm' && d.message().includes(expectConfirm)) {
        expectConfirm = null;
        confirmed = d.message();
        d.accept();
        return;
      }
      dialogs.push(d.message());
      d.dismiss();
    });
    p.on('console', (m) => { if (/Content Security Policy/i.test(m.text())) cspViolations.push(m.text()); });
  });

  // --- sign in; the queue in French (the browser's language) ---
  const page = await login(context, 'agent@example.test', pw('agent'));
  await page.waitForSelector('#rows tr');
  ok((await page.textContent('nav.top')).includes('File'), 'the console speaks French to a French browser');
  const firstRows = await page.$$eval('#rows tr', (rs) => rs.map((r) => Number(r.dataset.id)));
  ok(firstRows.length >= 3, 'the queue lists ' + firstRows.length + ' tickets');
  const dueCells = await page.$$eval('#rows td.due', (tds) => tds.map((td) => td.textContent));
  ok(dueCells.every((d) => /dans|en retard/.test(d)), 'each ticket shows its SLA countdown: ' + dueCells[0]);

  // --- a new mail appears without reloading ---
  const before = await page.evaluate(() => performance.getEntriesByType('navigation').length + ':' + performance.timeOrigin);
  execFileSync('bash', [path.join(__dirname, 'deliver.sh'), newMail]);
  await page.waitForFunction((word) => [...document.querySelectorAll('#rows td.subject')].some((td) => td.textContent.includes(word)),
    'Nouveautéfraîche', { timeout: 30000 });
  const after = await page.evaluate(() => performance.getEntriesByType('navigation').length + ':' + performance.timeOrigin);
  ok(before === after, 'a new ticket appeared in the queue without a reload');
  await page.screenshot({ path: path.join(artifacts, 'queue.png'), fullPage: true });

  // --- language switch ---
  await page.click('#lang-switch');
  await page.waitForFunction(() => (document.querySelector('nav.top')?.textContent ?? '').includes('Queue'));
  ok(true, 'the language switch turns the console to English');

  // --- a ticket: approve suggestion 1 with the keyboard ---
  const list = await (await page.request.get(base + '/api/v1/tickets?status=active&per_page=200')).json();
  let target = null;
  for (const tk of list.tickets) {
    const d = await (await page.request.get(base + '/api/v1/tickets/' + tk.id)).json();
    if (d.suggestions.some((s) => s.rank === 1 && s.status === 'proposed' && s.draft) && !tk.subject.includes(hostileSubjectWord)) {
      target = d;
      break;
    }
  }
  ok(target !== null, 'a ticket with a suggested reply exists');
  await page.click('#rows tr[data-id="' + target.id + '"]');
  await page.waitForURL(/ticket\.html\?id=/);
  await page.waitForSelector('li.suggestion');
  const why = await page.textContent('#why');
  ok(why.length > 20 && why.includes(target.category), 'the triage panel explains the category in words');
  await page.screenshot({ path: path.join(artifacts, 'ticket.png'), fullPage: true });
  await page.keyboard.press('1');
  const draft = await page.inputValue('#draft');
  ok(draft === target.suggestions[0].draft, 'key 1 puts suggestion 1 in the editable draft');
  ok((await page.textContent('#send')).includes('(1)'), 'the send button names the suggestion');
  await page.focus('#draft');
  await page.keyboard.press('Control+Enter');
  await page.waitForSelector('.flash');
  await page.waitForFunction(() => document.querySelector('li.suggestion[data-rank="1"] .badge.sugg-approved'));
  ok(true, 'Ctrl+Enter approved the suggestion; the page shows it approved');
  const sink = path.join(work, 'sink', 'mail');
  let sent = null;
  for (let i = 0; i < 150 && !sent; i++) {
    const files = fs.existsSync(sink) ? fs.readdirSync(sink).filter((f) => f.endsWith('.eml')) : [];
    if (files.length) sent = fs.readFileSync(path.join(sink, files[0]), 'latin1');
    else await sleep(200);
  }
  ok(sent !== null, 'the SMTP sink received the approved reply');
  ok(sent.includes('[#' + target.id + ']'), 'the reply is tagged with the ticket number');
  const detail = await (await page.request.get(base + '/api/v1/tickets/' + target.id)).json();
  ok(detail.events.some((e) => e.kind === 'reply_approved' && e.actor === 'agent:agent@example.test'), 'the approval is audited with the agent');

  // An internal note joins the thread, marked as such, and is not mailed.
  await page.fill('#note', 'Rappeler la cliente <b>demain</b>');
  await page.click('#note-add');
  await page.waitForSelector('#thread article.note');
  ok((await page.textContent('#thread article.note')).includes('Rappeler la cliente <b>demain</b>'),
    'the note is shown in the thread, as text');
  ok(fs.readdirSync(sink).filter((f) => f.endsWith('.eml')).length === 1, 'the note was not mailed');

  // --- a hostile mail renders inert ---
  const hostile = list.tickets.find((tk) => tk.subject.includes(hostileSubjectWord));
  ok(hostile !== undefined, 'the hostile mail became a ticket');
  requests.length = 0;
  await page.goto(base + '/ticket.html?id=' + hostile.id);
  await page.waitForSelector('.mail-text');
  await sleep(1500);
  const text = await page.textContent('#thread');
  ok(text.includes('<script>') && text.includes('onerror'), 'the markup is shown as text');
  ok((await page.textContent('#subject')).includes('<script>'), 'the subject too');
  const active = await page.$$eval('#thread script, #thread img, #thread a, #thread iframe, #subject script, #subject img',
    (n) => n.length);
  ok(active === 0, 'no element was made from the mail');
  ok(await page.evaluate(() => window.__pwned === undefined), 'no script of the mail ran');
  ok(dialogs.length === 0, 'no dialog opened');
  const foreign = requests.filter((u) => !u.startsWith(base + '/'));
  ok(foreign.length === 0, 'no request left for another origin: ' + foreign.join(' '));
  ok(!requests.some((u) => /\/x(\?|$)|leak/.test(u)), 'no request for the mail\'s image or beacon');
  ok(cspViolations.length === 0, 'nothing even reached the CSP: ' + cspViolations.join(' | '));

  // The agent says it is spam, with the button that offers the other verdict.
  const spamLabel = await page.textContent('#set-spam');
  await page.click('#set-spam');
  await page.waitForFunction((b) => document.querySelector('#set-spam').textContent !== b, spamLabel);
  const marked = await (await page.request.get(base + '/api/v1/tickets/' + hostile.id)).json();
  ok(marked.spam === true && marked.status === 'closed', 'one click marks the ticket spam and closes it');
  ok(marked.events.some((e) => e.kind === 'spam.corrected' && e.actor === 'agent:agent@example.test'),
    'the verdict is audited with the agent');

  // Merge: the same customer's request written twice. The page asks first,
  // then opens the ticket kept; the merged one links to it.
  const claire = list.tickets.filter((tk) => tk.requester === 'claire.martin@example.com')
    .map((tk) => tk.id).sort((a, b) => a - b);
  ok(claire.length === 2, 'the customer who wrote twice has two tickets');
  // the ticket whose reply was approved is kept
  const [into, from] = claire[1] === target.id ? [claire[1], claire[0]] : claire;
  await page.goto(base + '/ticket.html?id=' + from);
  await page.waitForSelector('#merge');
  await page.fill('#merge-into', String(into));
  expectConfirm = String(from);
  await page.click('#merge');
  await page.waitForURL(new RegExp('ticket\\.html\\?id=' + into + '$'));
  ok(expectConfirm === null && !confirmed.includes('%'), 'merging asks for a confirmation first: ' + confirmed);
  const mergedTk = await (await page.request.get(base + '/api/v1/tickets/' + from)).json();
  ok(mergedTk.merged_into === into && mergedTk.status === 'closed' && mergedTk.messages.length === 0,
    'the merged ticket is closed, its mails moved to #' + into);
  await page.goto(base + '/ticket.html?id=' + from);
  await page.waitForSelector('#summary a');
  ok((await page.textContent('#summary a')).includes('#' + into), 'its page links to the ticket kept');
  ok(!(await page.isVisible('#actions')) && await page.$eval('#send', (b) => b.disabled),
    'its page offers no more actions');
  ok(dialogs.length === 0, 'no other dialog opened');

  // An agent is sent away from the report.
  await page.goto(base + '/manager.html');
  await page.waitForSelector('.flash.error');
  ok((await page.textContent('.flash')).length > 0, 'an agent is refused the report');

  // --- the manager's page (English since the switch above) ---
  await context.clearCookies();
  const mpage = await login(context, 'manager@example.test', pw('manager'));
  await mpage.goto(base + '/manager.html');
  await mpage.waitForSelector('#charts svg');
  const charts = await mpage.$$eval('#charts svg', (s) => s.length);
  ok(charts >= 2, charts + ' SVG charts from the report module');
  ok(/\d/.test(await mpage.textContent('#figures')), 'figures of the period');
  ok((await mpage.textContent('#figures')).includes('Suggestion acceptance'), 'the suggestion acceptance rate');
  await mpage.screenshot({ path: path.join(artifacts, 'manager.png'), fullPage: true });

  await context.close();
  console.log(passed + ' browser checks passed');
})().catch((e) => {
  console.error('not ok - ' + (e && e.stack ? e.stack : e));
  process.exit(1);
});
