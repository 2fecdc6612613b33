"""Follow-up sequences (`[[sequences]]`): a closed lead's client gets the steps later, by
themselves. enrol.py (a trigger happened), timing.py (when a step may run), stops.py (what ends
a sequence), sweep.py (a due step becomes an outbox row, once), links.py (web-form clients
reached in Telegram), channels.py (the contact's preferred channel and first origin).

It sits below bot/leads (the close, convert and merge paths enrol and stop in their own
transaction); what needs the lead's actions (a client's answer reopening the lead) is in
bot/intake/sequence_answers.py, above them."""
