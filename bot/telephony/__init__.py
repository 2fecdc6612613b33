"""Calls: call events (the API's and the PBXs'), missed calls as call-back tasks, returning them
from the card."""
