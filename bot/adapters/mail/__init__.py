"""Mail adapters: the IMAP watcher that feeds e-mail intake (imap.py), and the SMTP client that
sends the managers' answers (aiosmtplib: smtp.py, sender.py, message.py)."""
