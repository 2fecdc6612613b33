"""E-mail as a channel, the core side: reading a letter, telling a client's letter from an
auto-reply, a list or a bounce, and turning it into a lead (or joining its thread's lead).
The IMAP watcher that feeds it is bot/adapters/mail/; the core never imports it."""
