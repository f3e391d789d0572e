#!/usr/bin/python3
"""Writes the demo's configuration: the shipped conf/triaged.json (its queues,
rules, calendars...) with the mailbox, the SMTP server and the folders of a
throwaway run on 127.0.0.1. Usage: demo-config.py TOP RUN IMAP_PORT SMTP_PORT"""
import json
import sys


def strip_comments(text):
    """Removes // and /* */ comments outside JSON strings."""
    out, i, n, in_string = [], 0, len(text), False
    while i < n:
        c = text[i]
        if in_string:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 1
            elif c == '"':
                in_string = False
        elif c == '"':
            in_string = True
            out.append(c)
        elif text.startswith("//", i):
            while i < n and text[i] != "\n":
                i += 1
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


top, run, imap_port, smtp_port = sys.argv[1:5]
with open(f"{top}/conf/triaged.json", encoding="utf-8") as f:
    cfg = json.loads(strip_comments(f.read()))
cfg["database"] = f"{run}/triaged.db"
cfg["data_dir"] = f"{top}/conf"
cfg["mailboxes"] = [{
    "name": "support", "host": "127.0.0.1", "port": int(imap_port),
    "tls": "none",  # a throwaway server on loopback
    "user": "support@example.test", "password_file": f"{run}/imap.pass",
    "folder": "INBOX", "after": "seen", "queue": "support",
}]
cfg["smtp"] = {
    "url": f"smtp://127.0.0.1:{smtp_port}", "tls": "none",
    "from": "Support Atelier Lumière <support@atelier-lumiere.test>",
}
cfg.pop("http", None)
json.dump(cfg, sys.stdout, ensure_ascii=False, indent=2)
