"""Mail adapters: the IMAP watcher that feeds e-mail intake (bot/email/)."""
