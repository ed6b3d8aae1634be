"""Dovecot 2.3 configuration for one lab instance (see Lab.start_dovecot)."""

import os


def dovecot_config(d, hosts, crt, key, port_imap, port_pop3, mail_uid):
    dh = "/usr/share/dovecot/dh.pem"
    return """# sluice lab instance: everything under {d}
instance_name = {inst}
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
info_log_path = {d}/dovecot.log
listen = {listen}
protocols = imap pop3
ssl = yes
ssl_cert = <{crt}
ssl_key = <{key}
{dh_line}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_verbose = yes
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {d}/passwd
}}
first_valid_uid = {uid}
last_valid_uid = {uid}
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
}}
mail_plugins = $mail_plugins zlib
protocol imap {{
  mail_plugins = $mail_plugins imap_zlib
}}
pop3_uidl_format = %08Xu%08Xv
service imap-login {{
  inet_listener imap {{
    port = {pi}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = {pp}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
service submission-login {{
  inet_listener submission {{
    port = 0
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0600
  }}
}}
""".format(d=d, inst=os.path.basename(os.path.dirname(d)), listen=", ".join(hosts),
           crt=crt, key=key, uid=mail_uid, pi=port_imap, pp=port_pop3,
           dh_line=("ssl_dh = <" + dh) if os.path.exists(dh) else "")
