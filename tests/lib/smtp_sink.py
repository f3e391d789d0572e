#!/usr/bin/python3
"""A throwaway SMTP server for tests: accepts mail on 127.0.0.1 and writes each
message to DIR/mail/NNNN.eml, with its envelope in DIR/mail/NNNN.json.

Run with Debian's /usr/bin/python3 (python3-aiosmtpd). Options:
  --dir DIR --port PORT
  --tls-cert FILE --tls-key FILE   offer STARTTLS with this certificate
  --require-tls                    refuse MAIL before STARTTLS
  --auth-user U --auth-password P  require AUTH PLAIN/LOGIN with these
  --fail "451 4.3.0 text"          answer this to DATA instead of accepting
The failure can also be switched at run time: while DIR/fail exists, its
first line is the answer to DATA (so a test can make the server fail, then
recover, without restarting it). While DIR/hold exists, the mail is kept
and then the answer to DATA waits that many seconds (to stop a client that
the server already accepted a mail from, before it hears the 250). A server that refuses connections is one
that is not running (smtp_sink.sh stop).
"""
import argparse
import asyncio
import json
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, directory, fail):
        self.dir = directory
        self.mail_dir = os.path.join(directory, "mail")
        os.makedirs(self.mail_dir, exist_ok=True)
        self.fail = fail
        self.lock = threading.Lock()

    def failure(self):
        path = os.path.join(self.dir, "fail")
        try:
            with open(path, encoding="utf-8") as f:
                line = f.readline().strip()
                return line or "451 4.3.0 temporary failure (sink told to fail)"
        except FileNotFoundError:
            return self.fail

    def log(self, text):
        with open(os.path.join(self.dir, "sink.log"), "a", encoding="utf-8") as f:
            f.write(text + "\n")

    def hold_seconds(self):
        try:
            with open(os.path.join(self.dir, "hold"), encoding="utf-8") as f:
                return float(f.readline().strip() or "0")
        except (FileNotFoundError, ValueError):
            return 0.0

    def store(self, session, envelope):
        with self.lock:
            n = len([x for x in os.listdir(self.mail_dir) if x.endswith(".eml")]) + 1
            base = os.path.join(self.mail_dir, "%04d" % n)
            meta = {
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "tls": session.ssl is not None,
                "auth_user": (session.auth_data.login.decode("utf-8", "replace")
                              if isinstance(session.auth_data, LoginPassword) else None),
            }
            with open(base + ".json.tmp", "w", encoding="utf-8") as f:
                json.dump(meta, f)
            with open(base + ".eml.tmp", "wb") as f:
                f.write(envelope.original_content)
            os.rename(base + ".json.tmp", base + ".json")
            os.rename(base + ".eml.tmp", base + ".eml")
        self.log("accepted %s from %s to %s" % (base, envelope.mail_from, envelope.rcpt_tos))
        return n

    async def handle_DATA(self, server, session, envelope):
        answer = self.failure()
        if answer:
            self.log("DATA refused: " + answer)
            return answer
        n = self.store(session, envelope)
        hold = self.hold_seconds()
        if hold > 0:
            # The mail is kept before the answer goes out: the RFC 1047 case
            # of a client that never hears the 250 of a delivered mail.
            self.log("DATA holding %.1f s" % hold)
            await asyncio.sleep(hold)
        return "250 2.0.0 Ok: queued as %04d" % n


def main():
    ap = argparse.ArgumentParser(description="SMTP sink for tests")
    ap.add_argument("--dir", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    ap.add_argument("--require-tls", action="store_true")
    ap.add_argument("--auth-user")
    ap.add_argument("--auth-password")
    ap.add_argument("--fail", default=None)
    args = ap.parse_args()

    sink = Sink(args.dir, args.fail)
    kwargs = {"decode_data": False, "server_hostname": "sink.example.test"}
    if args.tls_cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.tls_cert, args.tls_key)
        kwargs["tls_context"] = ctx
        kwargs["require_starttls"] = args.require_tls
    if args.auth_user is not None:
        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword)
                  and auth_data.login.decode() == args.auth_user
                  and auth_data.password.decode() == args.auth_password)
            sink.log("AUTH %s %s" % (mechanism, "ok" if ok else "refused"))
            return AuthResult(success=ok, handled=False, auth_data=auth_data)
        kwargs["authenticator"] = authenticator
        kwargs["auth_required"] = True
        kwargs["auth_require_tls"] = bool(args.tls_cert)

    controller = Controller(sink, hostname=args.host, port=args.port, **kwargs)
    controller.start()
    with open(os.path.join(args.dir, "sink.ready"), "w") as f:
        f.write("%d\n" % os.getpid())

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    while not stop.wait(3600):
        pass
    controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
