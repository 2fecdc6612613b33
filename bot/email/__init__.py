"""E-mail as a channel, the core side: a manager's answer to a client who wrote by e-mail is
queued as an outgoing letter in the same thread, settled when the mail server took it or
refused it, and a bounce is recorded on its lead. The SMTP client is bot/adapters/mail/."""
