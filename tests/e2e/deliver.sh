#!/usr/bin/env bash
# Delivers mail files into the test mailbox of the running e2e test
# ($DOVECOT set by console.sh).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../lib/dovecot.sh"
dovecot_append "${DOVECOT:?}" INBOX "$@"
