"""E-mail as a channel, the core side. In: reading a letter, telling a client's letter from an
auto-reply, a list or a bounce, and turning it into a lead (or joining its thread's lead); the
IMAP watcher that feeds it is bot/adapters/mail/imap.py. Out: a manager's answer to a client
who wrote by e-mail is queued as an outgoing letter in the same thread, settled when the mail
server took it or refused it, and a bounce is recorded on its lead; the SMTP client is
bot/adapters/mail/. The core never imports the adapters."""
