/* Which message fields an address rule (lists, spoofing) looks at. */
#ifndef SL_ADDR_TARGET_H
#define SL_ADDR_TARGET_H

enum sl_addr_target {
	SL_ADDR_MAIL_FROM = 1u << 0,	/* envelope MAIL FROM */
	SL_ADDR_RCPT_TO   = 1u << 1,	/* envelope RCPT TO (each) */
	SL_ADDR_AUTH_USER = 1u << 2,	/* SMTP AUTH user */
	SL_ADDR_HDR_FROM  = 1u << 3,	/* From: header (each mailbox) */
	SL_ADDR_HDR_TO    = 1u << 4,	/* To: and Cc: headers (each mailbox) */
};

#endif
