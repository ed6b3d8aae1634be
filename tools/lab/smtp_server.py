#!/usr/bin/python3
"""Storing SMTP server for the lab (aiosmtpd), started by lab.Lab.start_smtp().

Every message that reaches the end of DATA or BDAT LAST is written to
STORE/<n>.eml exactly as received (DATA: dot-unstuffed, CRLF kept; BDAT: the
chunks concatenated) with STORE/<n>.json: envelope, HELO name, AUTH user,
TLS, the ESMTP parameters and the reply the server gave.  Numbering starts
at 1 in arrival order.

Beyond aiosmtpd it advertises PIPELINING (aiosmtpd reads commands one line at
a time from a buffered stream, so pipelined commands are served in order)
and implements CHUNKING (RFC 3030 BDAT).  Policy for tests: RCPT TO one of
--reject-rcpt gets 550; a message containing --reject-data-marker gets 554
at the end of DATA/BDAT (and is still stored, with "reply": 554).
"""

import argparse
import asyncio
import json
import os
import ssl

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Store:
    def __init__(self, path):
        self.path = path
        self.n = 0

    def save(self, content, meta):
        self.n += 1
        base = os.path.join(self.path, "%d" % self.n)
        with open(base + ".eml.tmp", "wb") as f:
            f.write(content)
        with open(base + ".json", "w") as f:
            json.dump(meta, f, indent=1)
        os.rename(base + ".eml.tmp", base + ".eml")
        return self.n


class Handler:
    def __init__(self, args, store):
        self.args = args
        self.store = store

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        extra = ["250-PIPELINING"]
        if server.bdat:
            extra.append("250-CHUNKING")
        return responses[:-1] + extra + responses[-1:]

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.args.reject_rcpt:
            return "550 5.1.1 <%s>: Recipient address rejected: test policy" % address
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        content = envelope.original_content
        marker = self.args.reject_data_marker
        reject = bool(marker) and marker.encode() in content
        code = 554 if reject else 250
        auth = session.auth_data
        meta = {
            "helo": session.host_name,
            "mail_from": envelope.mail_from,
            "rcpt_to": envelope.rcpt_tos,
            "mail_options": envelope.mail_options,
            "rcpt_options": envelope.rcpt_options,
            "auth_user": (auth.login.decode() if isinstance(auth, LoginPassword) else None),
            "tls": session.ssl is not None,
            "peer": list(session.peer[:2]),
            "via": getattr(envelope, "bdat_chunks", None) and "BDAT" or "DATA",
            "bdat_chunks": getattr(envelope, "bdat_chunks", None),
            "size": len(content),
            "reply": code,
        }
        n = self.store.save(content, meta)
        if reject:
            return "554 5.7.1 Message %d rejected: test policy" % n
        return "250 2.0.0 Ok: queued as LAB%04d" % n


class LabSMTP(SMTP):
    bdat = True

    async def smtp_BDAT(self, arg):
        # RFC 3030: "BDAT <size> [LAST]", then exactly <size> octets.
        parts = (arg or "").split()
        if not parts or not parts[0].isdigit() or len(parts) > 2 or \
           (len(parts) == 2 and parts[1].upper() != "LAST") or not self.bdat:
            await self.push("501 5.5.4 Syntax: BDAT size [LAST]")
            return
        size, last = int(parts[0]), len(parts) == 2
        chunk = await self._reader.readexactly(size)
        env = self.envelope
        if not env.mail_from or not env.rcpt_tos:
            await self.push("503 5.5.1 Error: need MAIL and RCPT before BDAT")
            return
        if not hasattr(env, "bdat_buf"):
            env.bdat_buf = bytearray()
            env.bdat_chunks = []
        env.bdat_buf += chunk
        env.bdat_chunks.append(size)
        if not last:
            await self.push("250 2.0.0 Ok: %d octets" % size)
            return
        env.original_content = env.content = bytes(env.bdat_buf)
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push(status)


def authenticator(users):
    def check(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and \
            users.get(auth_data.login.decode()) == auth_data.password.decode()
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)
    return check


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--host", action="append", required=True)
    ap.add_argument("--port", type=int, default=25)
    ap.add_argument("--store", required=True)
    ap.add_argument("--ready")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--user", action="append", default=[])
    ap.add_argument("--reject-rcpt", action="append", default=[])
    ap.add_argument("--reject-data-marker", default="")
    ap.add_argument("--no-bdat", action="store_true")
    args = ap.parse_args()
    args.reject_rcpt = [r.lower() for r in args.reject_rcpt]
    users = dict(u.split(":", 1) for u in args.user)
    tls = None
    if args.cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.cert, args.key)
    handler = Handler(args, Store(args.store))
    LabSMTP.bdat = not args.no_bdat

    def factory():
        return LabSMTP(handler, decode_data=False, hostname="mail.lab.test",
                       ident="lab-smtpd", tls_context=tls, require_starttls=False,
                       authenticator=authenticator(users), auth_require_tls=False,
                       data_size_limit=64 * 1024 * 1024)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    srv = loop.run_until_complete(loop.create_server(factory, host=args.host,
                                                     port=args.port, reuse_address=True))
    if args.ready:
        with open(args.ready, "w") as f:
            f.write("%d\n" % os.getpid())
    try:
        loop.run_forever()
    finally:
        srv.close()


if __name__ == "__main__":
    main()
