"""Outgoing e-mail: the SMTP client that sends the managers' answers (aiosmtplib)."""
