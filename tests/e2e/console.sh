#!/usr/bin/env bash
# End-to-end test of the web console in Debian's chromium, driven by
# playwright-core (installed here, git-ignored, when missing). Starts a
# private Dovecot, an SMTP sink and triaged; screenshots land in
# $BUILD_DIR/e2e-artifacts/ (queue.png, ticket.png, manager.png).
set -euo pipefail
: "${BUILD_DIR:?}" "${SOURCE_DIR:?}"
E2E_DIR="$SOURCE_DIR/tests/e2e"
if [ ! -x /usr/bin/chromium ]; then
	apt-get install -y chromium >/dev/null || { echo "SKIP: chromium cannot be installed"; exit 77; }
fi
if [ ! -d "$E2E_DIR/node_modules/playwright-core" ]; then
	(cd "$E2E_DIR" && npm install --no-save --no-audit --no-fund --prefix . playwright-core >/dev/null) ||
		{ echo "SKIP: playwright-core cannot be installed"; exit 77; }
fi
source "$SOURCE_DIR/tests/lib/http_env.sh"
http_env_init http-e2e
http_env_start
export DOVECOT

hostile=$WORK/hostile.eml
cat >"$hostile" <<'MAIL'
From: Mallory <mallory@example.net>
To: support@example.test
Subject: =?UTF-8?Q?Pi=C3=A8ge?= <script>window.__pwned=1</script> <img src=x onerror="window.__pwned=2">
Message-ID: <hostile-1@example.net>
Date: Thu, 26 Nov 2026 10:00:00 +0100
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/plain; charset=UTF-8

Bonjour, ma commande n'est pas arrivée.
<script>window.__pwned=3; fetch('http://127.0.0.1:9/leak')</script>
<img src=x onerror="window.__pwned=4">
<img src="http://127.0.0.1:9/x">
<a href="javascript:window.__pwned=5">cliquez ici</a>
--b1
Content-Type: text/html; charset=UTF-8

<html><body><p>Bonjour, ma commande n'est pas arrivée.</p>
<script>window.__pwned=6</script><img src="http://127.0.0.1:9/leak.png" onerror="window.__pwned=7">
<a href="javascript:window.__pwned=8">cliquez ici</a></body></html>
--b1--
MAIL
fresh=$WORK/fresh.eml
cat >"$fresh" <<'MAIL'
From: Jeanne Petit <jeanne@example.com>
To: support@example.test
Subject: Nouveautéfraîche : ma facture est fausse
Message-ID: <fresh-1@example.com>
Date: Thu, 26 Nov 2026 11:00:00 +0100
Content-Type: text/plain; charset=UTF-8
MIME-Version: 1.0

Bonjour, ma facture de novembre compte deux fois la livraison. Pouvez-vous la corriger ?
MAIL
# The customer of sample 01 writing again about the same order, in a new
# mail: a second ticket, for the merge.
again=$WORK/again.eml
cat >"$again" <<'MAIL'
From: Claire Martin <claire.martin@example.com>
To: support@example.test
Subject: Toujours rien pour ma lampe Orsay
Message-ID: <again-1@example.com>
Date: Thu, 26 Nov 2026 10:30:00 +0100
Content-Type: text/plain; charset=UTF-8
MIME-Version: 1.0

Bonjour, je n'ai toujours pas reçu la commande CMD-2024-10452.
MAIL
http_env_mail "$SOURCE_DIR"/conf/samples/0{1,2,3}*.eml "$SOURCE_DIR"/conf/samples/2{0,2,6}*.eml "$hostile" \
	"$again"
http_wait_tickets 8 30 || fail "the mails did not become tickets"

NODE_PATH="$E2E_DIR/node_modules" node "$E2E_DIR/console.js" "$BASE_URL" "$WORK" "$BUILD_DIR/e2e-artifacts" \
	"$fresh" "Piège" || fail "browser checks failed"
http_env_stop_daemon || fail "triaged did not stop cleanly"
echo "screenshots: $BUILD_DIR/e2e-artifacts/{queue,ticket,manager}.png"
