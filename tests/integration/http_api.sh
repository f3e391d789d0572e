#!/usr/bin/env bash
# The JSON API against a running triaged on loopback, with mail coming in
# through a private Dovecot and replies leaving through a private SMTP sink:
# login, wrong password, rate limits per address and per account, CSRF,
# roles, idle expiry, every agent action with its audit event, errors with
# their status, the security headers, bounded bodies, static files.
set -euo pipefail
: "${BUILD_DIR:?}" "${SOURCE_DIR:?}"
source "$SOURCE_DIR/tests/lib/http_env.sh"
http_env_init http-api
http_env_start

http_env_mail "$SOURCE_DIR"/conf/samples/0{1,2,3,4}*.eml "$SOURCE_DIR"/conf/samples/20-angry-caps-fr.eml
http_wait_tickets 5 30 || fail "the sample mails did not become tickets"
# The customer of sample 01 again, in a new mail (no References): a second
# ticket of hers, for the merge checks.
printf '%s\n' "From: Claire Martin <claire.martin@example.com>" "To: support@example.test" \
	"Subject: Toujours rien pour ma lampe Orsay" "Message-ID: <again-1@example.com>" \
	"Content-Type: text/plain; charset=UTF-8" "" "Toujours pas de colis pour CMD-2024-10452." |
	ctl ingest >/dev/null || fail "triagectl ingest"

/usr/bin/python3 - "$BASE_URL" "$WORK" "$DB" "$SINK" <<'EOF' || fail "API checks failed"
import http.client, json, os, sqlite3, sys, time, urllib.parse

base, work, db_path, sink = sys.argv[1:5]
host, port = urllib.parse.urlsplit(base).hostname, urllib.parse.urlsplit(base).port
passed = 0

def ok(cond, what):
    global passed
    if not cond:
        print("not ok -", what, file=sys.stderr)
        sys.exit(1)
    passed += 1

class Client:
    def __init__(self, source="127.0.0.1", forwarded_for=None):
        self.source, self.cookie, self.csrf = source, None, None
        self.forwarded_for = forwarded_for
    def call(self, method, path, body=None, headers=None, raw=None, csrf=True):
        c = http.client.HTTPConnection(host, port, timeout=30, source_address=(self.source, 0))
        h = dict(headers or {})
        if self.forwarded_for:
            h["X-Forwarded-For"] = self.forwarded_for
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        if self.cookie:
            h["Cookie"] = self.cookie
        if csrf and self.csrf and method != "GET":
            h["X-CSRF-Token"] = self.csrf
        c.request(method, path, body=data, headers=h)
        r = c.getresponse()
        payload = r.read()
        c.close()
        sc = r.getheader("Set-Cookie")
        if sc:
            self.set_cookie = sc
            val = sc.split(";")[0]
            self.cookie = None if val.endswith("=") else val
        try:
            parsed = json.loads(payload) if payload else None
        except ValueError:
            parsed = payload
        return r.status, parsed, r
    def login(self, email, password):
        st, body, r = self.call("POST", "/api/v1/login", {"email": email, "password": password})
        if st == 200:
            self.csrf = body["csrf"]
        return st, body, r

def pw(role):
    return open(os.path.join(work, "pw-" + role)).read().strip()

def events(ticket, kind):
    db = sqlite3.connect(db_path)
    rows = db.execute("SELECT actor, detail FROM events WHERE ticket_id IS ? AND kind = ?"
                      " ORDER BY id", (ticket, kind)).fetchall()
    db.close()
    return rows

# --- login, wrong password, cookie and headers ---
agent = Client()
st, body, r = agent.login("agent@example.test", "not the password")
ok(st == 401 and "error" in body and "password" in body["error"], "wrong password: 401 with a readable error (%s %s)" % (st, body))
ok(agent.cookie is None, "no cookie after a failed login")
st, body, r = agent.login("Agent@Example.test", pw("agent"))
ok(st == 200 and body["agent"]["role"] == "agent" and len(body["csrf"]) == 64, "login ok: %s" % body)
sc = agent.set_cookie
for attr in ("HttpOnly", "SameSite=Strict", "Path=/"):
    ok(attr in sc, "cookie has " + attr)
ok("Secure" not in sc, "no Secure on plain loopback HTTP")
token = sc.split(";")[0].split("=", 1)[1]
dbc = sqlite3.connect(db_path)
stored = [row[0] for row in dbc.execute("SELECT token_hash FROM sessions")]
dbc.close()
ok(token not in stored and len(stored) == 1, "the session token is stored hashed only")
csp = r.getheader("Content-Security-Policy")
ok(csp == "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
         "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'", "CSP: %s" % csp)
ok(r.getheader("X-Frame-Options") == "DENY", "X-Frame-Options")
ok(r.getheader("Referrer-Policy") == "no-referrer", "Referrer-Policy")
ok(r.getheader("X-Content-Type-Options") == "nosniff", "nosniff")
ok(len(events(None, "login")) == 1 and events(None, "login")[0][0] == "agent:agent@example.test", "login audited")
ok(any("wrong password" in d for _, d in events(None, "login_failed")), "failed login audited")
st, body, _ = agent.call("GET", "/api/v1/session")
ok(st == 200 and body["csrf"] == agent.csrf, "the session gives the CSRF token back")

# --- unauthenticated ---
anon = Client()
st, body, r = anon.call("GET", "/api/v1/tickets")
ok(st == 401 and "signed in" in body["error"], "no session: 401")
ok(r.getheader("Content-Security-Policy") is not None, "security headers on errors too")
anon.cookie = "triaged_session=" + "0" * 64
ok(anon.call("GET", "/api/v1/tickets")[0] == 401, "forged session: 401")

# --- the queue ---
st, body, _ = agent.call("GET", "/api/v1/tickets?status=active&sort=due&per_page=2")
ok(st == 200 and len(body["tickets"]) == 2 and body["has_more"], "first page of 2: %s" % st)
first = body["tickets"]
dues = [t["due"] for t in first]
ok(all(d is not None for d in dues) and dues == sorted(dues), "sorted by SLA due time: %s" % dues)
for k in ("category", "category_confidence", "sentiment_label", "priority", "breached", "due"):
    ok(k in first[0], "ticket has " + k)
st, body, _ = agent.call("GET", "/api/v1/tickets?status=active&sort=due&per_page=2&page=2")
ok(st == 200 and not set(t["id"] for t in body["tickets"]) & set(t["id"] for t in first), "page 2 differs")
st, body, _ = agent.call("GET", "/api/v1/tickets?q=" + urllib.parse.quote('lampe" OR col:*'))
ok(st == 200, "a search with FTS operators is taken as words: %s %s" % (st, body))
st, body, _ = agent.call("GET", "/api/v1/tickets?q=" + urllib.parse.quote("xyzzyneverwritten"))
ok(st == 200 and body["tickets"] == [], "a search with no hit is empty")
db = sqlite3.connect(db_path)
word_ticket, subject = db.execute("SELECT id, subject FROM tickets ORDER BY id LIMIT 1").fetchone()
db.close()
word = max(subject.split(), key=len)
st, body, _ = agent.call("GET", "/api/v1/tickets?q=" + urllib.parse.quote(word))
ok(st == 200 and word_ticket in [t["id"] for t in body["tickets"]], "q finds ticket %d by %r" % (word_ticket, word))
ok(agent.call("GET", "/api/v1/tickets?status=bogus")[0] == 400, "unknown status: 400")
ok(agent.call("GET", "/api/v1/tickets?per_page=0")[0] == 400, "per_page 0: 400")
ok(agent.call("GET", "/api/v1/tickets?page=abc")[0] == 400, "page abc: 400")

# --- a ticket ---
db = sqlite3.connect(db_path)
tid = db.execute("SELECT ticket_id FROM suggestions GROUP BY ticket_id HAVING count(*) >= 2"
                 " ORDER BY ticket_id LIMIT 1").fetchone()[0]
db.close()
st, t, _ = agent.call("GET", "/api/v1/tickets/%d" % tid)
ok(st == 200 and t["id"] == tid, "ticket detail")
ok(len(t["messages"]) >= 1 and t["messages"][0]["text"], "messages as text")
ok(all("html" not in m for m in t["messages"]), "no HTML part in the API")
cat = [d for d in t["triage"] if d["task"] == "category"]
ok(cat and cat[0]["explanation"], "category with its explanation")
ok(any(d["task"] == "sentiment" for d in t["triage"]), "sentiment")
ok(len(t["sla"]) >= 1 and t["sla"][0]["due"], "SLA clocks")
ok(len(t["suggestions"]) >= 2 and t["suggestions"][0]["draft"], "suggestions with drafts")
ok(len(t["events"]) >= 1, "events")
ok(agent.call("GET", "/api/v1/tickets/999999")[0] == 404, "no such ticket: 404")
ok(agent.call("GET", "/api/v1/tickets/abc")[0] == 404, "not a number: 404")
ok(agent.call("DELETE", "/api/v1/tickets/%d" % tid)[0] == 405, "DELETE: 405")
st, _, r = agent.call("GET", "/api/v1/tickets/%d/status" % tid)
ok(st == 405 and r.getheader("Allow") == "POST", "GET on an action: 405 with Allow")
ok(agent.call("GET", "/api/v1/nothing")[0] == 404, "unknown path: 404")

# --- CSRF ---
path = "/api/v1/tickets/%d/priority" % tid
st, body, _ = agent.call("POST", path, {"priority": "high"}, csrf=False)
ok(st == 403 and "CSRF" in body["error"], "no CSRF token: 403")
st, body, _ = agent.call("POST", path, {"priority": "high"}, headers={"X-CSRF-Token": "f" * 64}, csrf=False)
ok(st == 403, "wrong CSRF token: 403")
other = Client()
other.login("manager@example.test", pw("manager"))
st, _, _ = agent.call("POST", path, {"priority": "high"}, headers={"X-CSRF-Token": other.csrf}, csrf=False)
ok(st == 403, "another session's CSRF token: 403")
st, _, _ = agent.call("POST", path, {"priority": "high"}, headers={"Origin": "http://evil.example"})
ok(st == 403, "a foreign Origin: 403")
st, body, _ = agent.call("POST", path, raw=b"priority=high", headers={"Content-Type": "application/x-www-form-urlencoded"})
ok(st == 415, "a form body: 415")
st, body, _ = agent.call("POST", path, raw=b"{not json", headers={"Content-Type": "application/json"})
ok(st == 400 and "JSON" in body["error"], "broken JSON: 400")
ok(events(tid, "priority_changed") == [], "nothing refused changed the ticket")

# --- every action and its audit event ---
me = "agent:agent@example.test"
st, body, _ = agent.call("POST", path, {"priority": "high"})
ok(st == 200, "priority: %s %s" % (st, body))
ev = events(tid, "priority_changed")
ok(len(ev) == 1 and ev[0][0] == me and json.loads(ev[0][1])["to"] == "high", "priority audited: %s" % ev)
ok(agent.call("POST", path, {"priority": "extreme"})[0] == 400, "unknown priority: 400")

st, _, _ = agent.call("POST", "/api/v1/tickets/%d/status" % tid, {"status": "open"})
ev = events(tid, "status_changed")
ok(st == 200 and ev[-1][0] == me and json.loads(ev[-1][1])["to"] == "open", "status audited")

st, _, _ = agent.call("POST", "/api/v1/tickets/%d/assignee" % tid, {"assignee": "manager@example.test"})
ev = events(tid, "assigned")
ok(st == 200 and ev[-1][0] == me and json.loads(ev[-1][1])["to"] == "manager@example.test", "assignee audited")
st, _, _ = agent.call("POST", "/api/v1/tickets/%d/assignee" % tid, {"assignee": None})
ok(st == 200 and json.loads(events(tid, "assigned")[-1][1])["to"] is None, "unassigned")

st, _, _ = agent.call("POST", "/api/v1/tickets/%d/queue" % tid, {"queue": "billing"})
ok(st == 200 and events(tid, "queue_changed")[-1][0] == me, "queue audited")
st, body, _ = agent.call("POST", "/api/v1/tickets/%d/queue" % tid, {"queue": "nowhere"})
ok(st == 400 and "nowhere" in body["error"], "unknown queue: 400 (%s)" % body)

new_cat = "billing" if t["category"] != "billing" else "technical"
st, body, _ = agent.call("POST", "/api/v1/tickets/%d/category" % tid, {"category": new_cat})
ok(st == 200, "recategorise: %s %s" % (st, body))
ev = events(tid, "category.corrected")
ok(len(ev) == 1 and ev[0][0] == me, "recategorisation audited: %s" % ev)
st, t2, _ = agent.call("GET", "/api/v1/tickets/%d" % tid)
ok(t2["category"] == new_cat, "the category changed")
st, body, _ = agent.call("POST", "/api/v1/tickets/%d/category" % tid, {"category": "no-such-label"})
ok(st == 400, "unknown category: 400 (%s %s)" % (st, body))

# Spam or not, on another ticket: spam closes it, "not spam" reopens it, the
# spam model learns each verdict.
other_id = [x["id"] for x in agent.call("GET", "/api/v1/tickets")[1]["tickets"] if x["id"] != tid][0]
st, body, _ = agent.call("POST", "/api/v1/tickets/%d/spam" % other_id, {"spam": True})
ok(st == 200 and body["status"] == "closed", "marked spam: %s %s" % (st, body))
st, t3, _ = agent.call("GET", "/api/v1/tickets/%d" % other_id)
ok(t3["spam"] and t3["status"] == "closed", "the ticket is spam and closed")
st, body, _ = agent.call("POST", "/api/v1/tickets/%d/spam" % other_id, {"spam": False})
ok(st == 200 and body == {"spam": False, "old_status": "closed", "status": "open"}, "not spam: %s %s" % (st, body))
st, t3, _ = agent.call("GET", "/api/v1/tickets/%d" % other_id)
ok(not t3["spam"] and t3["status"] == "open", "rescued: not spam, open again")
ev = events(other_id, "spam.corrected")
ok(len(ev) == 2 and ev[0][0] == me and '"to":false' in ev[1][1], "both verdicts audited: %s" % ev)
db = sqlite3.connect(db_path)
learned = db.execute("SELECT label FROM training WHERE ticket_id = ? AND model = 'spam'", (other_id,)).fetchall()
db.close()
ok(learned == [("ham",)], "the spam model keeps the last verdict only: %s" % learned)
st, body, _ = agent.call("POST", "/api/v1/tickets/%d/spam" % other_id, {"spam": "no"})
ok(st == 400, "spam must be a boolean: %s" % st)

# Internal notes: for the agents, in the ticket's history, never in the outbox.
outbox_before = sqlite3.connect(db_path).execute("SELECT count(*) FROM outbox").fetchone()[0]
st, body, _ = agent.call("POST", "/api/v1/tickets/%d/note" % tid, {"text": "Client VIP : rappeler avant 17 h."})
ok(st == 201, "note added: %s %s" % (st, body))
st, t4, _ = agent.call("GET", "/api/v1/tickets/%d" % tid)
notes = [e for e in t4["events"] if e["kind"] == "note"]
ok(len(notes) == 1 and notes[0]["actor"] == me and notes[0]["detail"]["text"] == "Client VIP : rappeler avant 17 h.",
   "the note is in the ticket's history with its author: %s" % notes)
ok(sqlite3.connect(db_path).execute("SELECT count(*) FROM outbox").fetchone()[0] == outbox_before,
   "a note sends nothing")
ok(agent.call("POST", "/api/v1/tickets/%d/note" % tid, {"text": "  \n "})[0] == 400, "a blank note: 400")
ok(agent.call("POST", "/api/v1/tickets/%d/note" % tid, {"text": "x" * 20000})[0] == 400, "an oversized note: 400")
ok(agent.call("POST", "/api/v1/tickets/99999/note", {"text": "x"})[0] == 404, "a note on no ticket: 404")

st, body, _ = agent.call("POST", "/api/v1/tickets/%d/suggestions/2/reject" % tid, {"reason": "   "})
ok(st == 400 and "reason" in body["error"], "rejection without a reason: 400")
st, body, _ = agent.call("POST", "/api/v1/tickets/%d/suggestions/2/reject" % tid, {"reason": "does not answer the question"})
ok(st == 200, "reject: %s %s" % (st, body))
ev = events(tid, "suggestion_rejected")
ok(len(ev) == 1 and "does not answer" in ev[0][1], "rejection audited with its reason: %s" % ev)
st, body, _ = agent.call("POST", "/api/v1/tickets/%d/suggestions/2/reject" % tid, {"reason": "again"})
ok(st == 409, "rejecting twice: 409 (%s)" % st)
ok(agent.call("POST", "/api/v1/tickets/%d/suggestions/99/reject" % tid, {"reason": "x"})[0] == 404, "no suggestion 99: 404")

draft = t["suggestions"][0]["draft"]
st, body, _ = agent.call("POST", "/api/v1/tickets/%d/reply" % tid, {"text": draft, "suggestion": 1})
ok(st == 202 and body["outbox_id"] > 0, "approve suggestion 1: %s %s" % (st, body))
ev = events(tid, "reply_approved")
ok(len(ev) == 1 and ev[0][0] == me and json.loads(ev[0][1])["edited"] is False, "approval audited: %s" % ev)
ok(agent.call("POST", "/api/v1/tickets/%d/reply" % tid, {"text": draft, "suggestion": 1})[0] == 409, "approving twice: 409")
ok(agent.call("POST", "/api/v1/tickets/%d/reply" % tid, {"text": " \n"})[0] == 400, "empty reply: 400")
ok(agent.call("POST", "/api/v1/tickets/999999/reply", {"text": "hello"})[0] == 404, "reply to no ticket: 404")
deadline = time.time() + 30
while time.time() < deadline and not any(f.endswith(".eml") for f in os.listdir(os.path.join(sink, "mail"))):
    time.sleep(0.2)
mails = sorted(f for f in os.listdir(os.path.join(sink, "mail")) if f.endswith(".eml"))
ok(len(mails) == 1, "the SMTP sink received the reply (%d mails)" % len(mails))
raw = open(os.path.join(sink, "mail", mails[0]), "rb").read()
ok(("[#%d]" % tid).encode() in raw, "the reply carries the ticket tag")

# --- knowledge base ---
st, body, _ = agent.call("GET", "/api/v1/kb?q=" + urllib.parse.quote("remboursement commande"))
ok(st == 200 and len(body["articles"]) >= 1, "kb search: %s" % body)
art = body["articles"][0]["id"]
st, body, _ = agent.call("GET", "/api/v1/kb/" + urllib.parse.quote(art))
ok(st == 200 and body["body"], "kb article")
ok(agent.call("GET", "/api/v1/kb")[0] == 400, "kb without q: 400")

# --- roles ---
st, body, _ = agent.call("GET", "/api/v1/reports/sla")
ok(st == 403 and "manager" in body["error"], "an agent cannot read reports")
st, body, _ = agent.call("POST", "/api/v1/agents", {"email": "x@example.test", "name": "X", "role": "admin", "password": "long enough pw"})
ok(st == 403, "an agent cannot add agents")
st, body, _ = other.call("GET", "/api/v1/reports/sla?from=2025-01-01&to=2027-12-31&by=queue")
ok(st == 200 and "charts" in body and body["charts"] and body["charts"][0].startswith("<svg"), "a manager reads the report with its charts: %s %s" % (st, str(body)[:600]))
ok("suggestions" in body and body["suggestions"]["rejected"] >= 1 and body["suggestions"]["acceptance_rate"] is not None, "acceptance rate: %s" % body.get("suggestions"))
ok(other.call("GET", "/api/v1/reports/sla?from=yesterday")[0] == 400, "bad report date: 400")
ok(other.call("GET", "/api/v1/reports/sla?by=colour")[0] == 400, "bad report grouping: 400")
ok(other.call("GET", "/api/v1/agents")[0] == 403, "a manager cannot list agents")
admin = Client()
admin.login("admin@example.test", pw("admin"))
st, body, _ = admin.call("POST", "/api/v1/agents", {"email": "New@Example.test", "name": "New", "role": "agent", "password": "new-password-1"})
ok(st == 201, "an admin adds an agent: %s %s" % (st, body))
ok(events(None, "agent_added")[-1][0] == "agent:admin@example.test", "agent_added audited")
ok(admin.call("POST", "/api/v1/agents", {"email": "new@example.test", "name": "New", "role": "agent", "password": "new-password-1"})[0] == 409, "twice: 409")
ok(admin.call("POST", "/api/v1/agents", {"email": "short@example.test", "name": "S", "role": "agent", "password": "short"})[0] == 400, "short password: 400")
st, body, _ = admin.call("GET", "/api/v1/agents")
ok(st == 200 and "new@example.test" in [a["email"] for a in body["agents"]], "admin lists agents")
ok(all("password" not in json.dumps(a) for a in body["agents"]), "no password hash in the list")
newbie = Client()
ok(newbie.login("new@example.test", "new-password-1")[0] == 200, "the new agent logs in")

# --- merge: the same customer's request written twice ---
db = sqlite3.connect(db_path)
src, dst = [r[0] for r in db.execute("SELECT id FROM tickets WHERE requester = ?"
                                     " ORDER BY id DESC", ("claire.martin@example.com",))]
stranger = db.execute("SELECT id FROM tickets WHERE requester != ? AND merged_into IS NULL"
                      " ORDER BY id LIMIT 1", ("claire.martin@example.com",)).fetchone()[0]
n_src = db.execute("SELECT count(*) FROM messages WHERE ticket_id = ?", (src,)).fetchone()[0]
db.close()
st, body, _ = agent.call("POST", "/api/v1/tickets/%d/merge" % src, {"into": stranger})
ok(st == 400 and "different customers" in body["error"], "another customer's ticket: 400 (%s %s)" % (st, body))
st, body, _ = agent.call("POST", "/api/v1/tickets/%d/merge" % src, {"into": dst})
ok(st == 200 and body == {"id": src, "into": dst, "messages": n_src}, "merge: %s %s" % (st, body))
st, merged, _ = agent.call("GET", "/api/v1/tickets/%d" % src)
ok(merged["merged_into"] == dst and merged["status"] == "closed" and merged["messages"] == [],
   "the merged ticket: closed, empty, pointing at %d: %s" % (dst, {k: merged[k] for k in ("merged_into", "status")}))
ok(all(c["state"] == "stopped" for c in merged["sla"]), "its clocks stopped: %s" % merged["sla"])
st, kept, _ = agent.call("GET", "/api/v1/tickets/%d" % dst)
ok(kept["merged_into"] is None and len([m for m in kept["messages"] if m["direction"] == "in"]) >= 2,
   "the other ticket holds both requests")
ok(events(src, "ticket.merged")[0][0] == me and events(dst, "ticket.merged_from")[0][0] == me,
   "the merge audited on both tickets")
ok(agent.call("POST", "/api/v1/tickets/%d/merge" % src, {"into": dst})[0] == 400, "merging again: 400")
ok(agent.call("POST", "/api/v1/tickets/%d/merge" % dst, {"into": src})[0] == 400, "into a merged ticket: 400")
ok(agent.call("POST", "/api/v1/tickets/%d/merge" % dst, {"into": dst})[0] == 400, "into itself: 400")
ok(agent.call("POST", "/api/v1/tickets/%d/merge" % dst, {"into": "x"})[0] == 400, "into: a number")
ok(agent.call("POST", "/api/v1/tickets/%d/merge" % dst, {"into": 1.5})[0] == 400, "into: a whole number")
ok(agent.call("POST", "/api/v1/tickets/%d/merge" % dst, {"into": 999999})[0] == 400, "into no ticket: 400")
ok(agent.call("POST", "/api/v1/tickets/999999/merge", {"into": dst})[0] == 404, "no such ticket: 404")
st, body, _ = agent.call("POST", "/api/v1/tickets/%d/status" % src, {"status": "open"})
ok(st == 400 and "merged into %d" % dst in body["error"], "a merged ticket takes no action: %s %s" % (st, body))

# --- bodies and static files ---
st, body, _ = agent.call("POST", "/api/v1/tickets/%d/reply" % tid, raw=b"{" + b" " * (300 * 1024) + b"}",
                         headers={"Content-Type": "application/json"})
ok(st == 413 and "larger" in body["error"], "a 300 KiB body: 413")
st, page, r = anon.call("GET", "/")
ok(st == 200 and r.getheader("Content-Type").startswith("text/html") and r.getheader("Content-Security-Policy"), "the console's page")
ok(anon.call("GET", "/../../etc/passwd")[0] == 404, "no way out of static_dir")
ok(anon.call("GET", "/.hidden.js")[0] == 404, "no hidden files")
ok(anon.call("POST", "/index.html", raw=b"")[0] == 405, "POST on a page: 405")

# --- logout, idle expiry, disabled account ---
st, _, _ = newbie.call("POST", "/api/v1/logout", {})
ok(st == 200 and newbie.cookie is None and "Max-Age=0" in newbie.set_cookie, "logout clears the cookie")
newbie.cookie = "triaged_session=" + token  # any old cookie is dead now for this client
ok(events(None, "logout")[-1][0] == "agent:new@example.test", "logout audited")
db = sqlite3.connect(db_path)
db.execute("UPDATE sessions SET last_seen = last_seen - 31 * 60 WHERE agent_id = (SELECT id FROM agents WHERE email = 'manager@example.test')")
db.commit()
db.close()
ok(other.call("GET", "/api/v1/tickets")[0] == 401, "a session idle for 31 minutes has expired")
ok(agent.call("GET", "/api/v1/tickets")[0] == 200, "the agent's session lives on")

# --- rate limits ---
lim = Client("127.0.0.3")
for i in range(5):
    st = lim.login("nobody%d@example.test" % i, "whatever-%d" % i)[0]
    ok(st == 401, "failure %d: 401" % i)
st, body, r = lim.login("admin@example.test", pw("admin"))
ok(st == 429 and int(r.getheader("Retry-After")) > 800, "6th attempt from one address: 429 with Retry-After %s" % r.getheader("Retry-After"))
ok(Client("127.0.0.4").login("admin@example.test", pw("admin"))[0] == 200, "another address is not limited")
for i in range(5):
    ok(Client("127.0.0.%d" % (10 + i)).login("manager@example.test", "bad-%d" % i)[0] == 401, "account failure %d" % i)
st, body, r = Client("127.0.0.20").login("manager@example.test", pw("manager"))
ok(st == 429 and r.getheader("Retry-After"), "6th attempt on one account from a new address: 429")
ok("minutes" in body["error"], "429 says when: %s" % body)

# Behind the trusted proxy (127.0.0.30, http.trusted_proxies) the limit
# counts the client X-Forwarded-For names; the rightmost address wins, so a
# client cannot hide behind a forged one. Elsewhere the header is ignored.
for i in range(5):
    ok(Client("127.0.0.30", "203.0.113.7").login("ghost%d@example.test" % i, "x-%d" % i)[0] == 401,
       "proxied failure %d" % i)
ok(Client("127.0.0.30", "203.0.113.7").login("admin@example.test", pw("admin"))[0] == 429,
   "the proxied client is limited")
ok(Client("127.0.0.30", "198.51.100.1, 203.0.113.7").login("admin@example.test", pw("admin"))[0] == 429,
   "a forged address to the left does not help")
ok(Client("127.0.0.30", "203.0.113.8").login("admin@example.test", pw("admin"))[0] == 200,
   "another client behind the same proxy is not limited")
ok(any("203.0.113.7" in (d or "") for _, d in events(None, "login_failed")),
   "the audit log names the client, not the proxy")
for i in range(5):
    ok(Client("127.0.0.31", "203.0.113.%d" % (20 + i)).login("spook%d@example.test" % i, "y")[0] == 401,
       "untrusted peer failure %d" % i)
ok(Client("127.0.0.31", "203.0.113.99").login("admin@example.test", pw("admin"))[0] == 429,
   "an untrusted peer's X-Forwarded-For is ignored")

print("ok - %d API checks passed" % passed)
EOF

# The disabled account: its sessions end at once.
ctl agent disable agent@example.test >/dev/null || fail "agent disable"
code=$(curl -s -o /dev/null -w '%{http_code}' "$BASE_URL/api/v1/tickets")
[ "$code" = 401 ] || fail "no cookie: $code"
n=$(sqlite3 "$DB" "SELECT count(*) FROM sessions s JOIN agents a ON a.id = s.agent_id WHERE a.email = 'agent@example.test'")
[ "$n" = 0 ] || fail "the disabled agent still has $n sessions"
echo "ok - disabling an agent ends its sessions"

# Not loopback without TLS: refused with a clear error and EX_CONFIG.
http_env_stop_daemon || fail "triaged did not stop cleanly"
sed "s/\"listen\": \"127.0.0.1:$HTTP_PORT\"/\"listen\": \"0.0.0.0:$HTTP_PORT\"/" "$CONFIG" >"$WORK/open.json"
set +e
timeout 20 "$BUILD_DIR/triaged" -c "$WORK/open.json" 2>"$WORK/open.log"
rc=$?
set -e
[ "$rc" = 78 ] || fail "0.0.0.0 without TLS: exit $rc, expected 78"
grep -q "not loopback" "$WORK/open.log" || fail "no clear reason: $(cat "$WORK/open.log")"
echo "ok - plain HTTP on 0.0.0.0 refused: $(grep 'not loopback' "$WORK/open.log" | head -n1)"
# The same note from triagectl, and `show` puts the notes in the thread.
first=$(sqlite3 "$DB" "SELECT min(id) FROM tickets")
ctl note "$first" "Vu avec la logistique : colis parti ce matin." || fail "triagectl note"
printf 'Deuxième note,\nsur deux lignes.\n' | ctl note "$first" --text-file - || fail "triagectl note from stdin"
shown=$(ctl show "$first") || fail "triagectl show"
grep -q "^--- internal note by cli:" <<<"$shown" || fail "show lists no note"
grep -q "sur deux lignes" <<<"$shown" || fail "show lost the note from stdin"
grep -q "^--- internal note by agent:agent@example.test" <<<"$shown" || fail "show lists no note from the console"
ctl note "$first" "   " 2>/dev/null && fail "a blank note was accepted"
echo "ok - triagectl note and show"

# triagectl's list shows each ticket's deadline, as the console does, not the
# warning time (warn_at 0.75) that comes first in next_due.
ctl tickets --json | /usr/bin/python3 -c '
import json, sys, sqlite3
db = sqlite3.connect(sys.argv[1])
seen = 0
for t in json.load(sys.stdin):
    due = db.execute("SELECT min(due) FROM sla_clocks WHERE ticket_id = ? AND state = ?",
                     (t["id"], "running")).fetchone()[0]
    when = db.execute("SELECT strftime(?, ?, ?)", ("%Y-%m-%dT%H:%M:%SZ", due, "unixepoch")).fetchone()[0] if due else None
    assert t["due"] == when, (t["id"], t["due"], when)
    if due:
        seen += 1
        assert t["next_due"] < t["due"], t
    assert t["breached"] is False and t["sla_paused"] in (True, False), t
assert seen > 0
' "$DB" || fail "triagectl tickets: SLA due times"
read -r id due < <(ctl tickets --json | /usr/bin/python3 -c '
import json, sys
t = [t for t in json.load(sys.stdin) if t["due"]][0]
print(t["id"], t["due"][:16])')
ctl tickets | awk -v id="$id" -v due="$due" '$1 == id && $7 == due { found = 1 } END { exit !found }' ||
	fail "triagectl tickets: the SLA DUE column is not the deadline"
echo "ok - triagectl tickets: SLA deadlines"

# TLS: the same server over HTTPS (GnuTLS), Secure cookie, HSTS.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
	-addext "subjectAltName=IP:127.0.0.1" -keyout "$WORK/web.key" -out "$WORK/web.pem" 2>/dev/null ||
	fail "openssl"
sed "s|\"session_idle_minutes\": 30|\"session_idle_minutes\": 30, \"tls_cert\": \"$WORK/web.pem\", \"tls_key\": \"$WORK/web.key\"|" \
	"$CONFIG" >"$WORK/tls.json"
"$BUILD_DIR/triaged" -c "$WORK/tls.json" 2>>"$WORK/triaged.log" &
DAEMON_PID=$!
wait_port "$HTTP_PORT" 20 || fail "no HTTPS listener"
headers=$(curl -s --cacert "$WORK/web.pem" -D - -o /dev/null -H 'Content-Type: application/json' \
	-d "{\"email\":\"admin@example.test\",\"password\":\"$(cat "$WORK/pw-admin")\"}" \
	"https://127.0.0.1:$HTTP_PORT/api/v1/login") || fail "HTTPS login failed"
echo "$headers" | grep -q '^HTTP/1.1 200' || fail "HTTPS login: $headers"
echo "$headers" | grep -i '^Set-Cookie:' | grep -q 'Secure' || fail "no Secure cookie over TLS"
echo "$headers" | grep -qi '^Strict-Transport-Security:' || fail "no HSTS over TLS"
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/api/v1/session" || true)
[ "$code" != 401 ] && [ "$code" != 200 ] || fail "plain HTTP answered on the TLS port"
http_env_stop_daemon || fail "triaged (TLS) did not stop cleanly"
echo "ok - HTTPS with the configured certificate: Secure cookie, HSTS"
echo "all passed"
