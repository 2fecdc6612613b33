"""`leadbot sandbox`: the real application against the emulated Telegram, played in a browser."""
