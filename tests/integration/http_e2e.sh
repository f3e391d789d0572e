#!/usr/bin/env bash
# The web console in a real browser: see tests/e2e/console.sh.
exec bash "${SOURCE_DIR:?}/tests/e2e/console.sh"
