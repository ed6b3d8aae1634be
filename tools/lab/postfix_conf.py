"""A private Postfix instance for the lab (see Lab.start_postfix).

Everything lives under one directory: etc/ (config_directory, given to
postfix with -c), spool/ (queue_directory), data/, vmail/inbox/ (one maildir
that receives every accepted message through the virtual(8) agent) and
maillog (maillog_file, written by postlogd).  No chroot, no DNS, no relay.
"""

import os
import pwd

MASTER_CF = """# service type private unpriv chroot wakeup maxproc command
{listen} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""

MAIN_CF = """# sluice lab Postfix instance
compatibility_level = 3.6
queue_directory = {d}/spool
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
maillog_file_prefixes = {d}
maillog_file = {d}/maillog
myhostname = mx.lab.test
mydomain = lab.test
myorigin = lab.test
mydestination =
inet_interfaces = {host}
inet_protocols = {proto}
mynetworks = 0.0.0.0/0 [::]/0
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
alias_maps =
alias_database =
local_recipient_maps =
relay_domains =
virtual_mailbox_domains = static:all
virtual_mailbox_base = {d}/vmail
virtual_mailbox_maps = static:inbox/
virtual_minimum_uid = 1
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
message_size_limit = 52428800
virtual_mailbox_limit = 0
smtputf8_enable = no
biff = no
smtpd_banner = $myhostname ESMTP lab-postfix
"""


def postfix_setup(lab, d, host, port):
    etc = os.path.join(d, "etc")
    os.makedirs(etc, exist_ok=True)
    nobody = pwd.getpwnam("nobody")
    vmail = os.path.join(d, "vmail")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(vmail, "inbox", sub), exist_ok=True)
    for root, dirs, files in os.walk(vmail):
        os.chown(root, nobody.pw_uid, nobody.pw_gid)
    listen = ("[%s]:%d" % (host, port)) if ":" in host else ("%s:%d" % (host, port))
    with open(os.path.join(etc, "master.cf"), "w") as f:
        f.write(MASTER_CF.format(listen=listen))
    with open(os.path.join(etc, "main.cf"), "w") as f:
        f.write(MAIN_CF.format(d=d, host=host, proto="ipv6" if ":" in host else "ipv4",
                               uid=nobody.pw_uid, gid=nobody.pw_gid))
    os.makedirs(os.path.join(d, "spool"), exist_ok=True)
    data = os.path.join(d, "data")
    os.makedirs(data, exist_ok=True)
    pf = pwd.getpwnam("postfix")
    os.chown(data, pf.pw_uid, pf.pw_gid)
    # "postfix check" creates the queue subdirectories with Postfix's own
    # ownership and modes.
    r = lab.run("server", ["/usr/sbin/postfix", "-c", etc, "check"], check=False)
    return {"conf": etc, "maildir": os.path.join(vmail, "inbox"), "dir": d,
            "check": (r.stdout + r.stderr).strip()}
