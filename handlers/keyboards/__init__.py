"""Every CallbackData class and keyboard builder: the buttons under cards, pickers, lists and
staff pages (their prefixes are stored in chats and never change)."""
