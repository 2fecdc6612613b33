"""The vocabulary every capability uses: the clock, durations, contacts, the lead's state
machine, rendering text, the outbox (the database side of delivery), logs. Imports only
bot.config and storage."""
