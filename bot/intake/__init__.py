"""Every way a lead comes in: what a request must hold (input), storing a batch (store, queue),
site builders' payloads (connectors), clients writing to the bot (client_chat, client_pace),
duplicate flagging."""
