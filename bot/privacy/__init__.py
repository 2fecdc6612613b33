"""A person's data on request: erasing it (erase.py) and finding their traces in stored values
(scrub.py)."""
