"""What supervisors read: the daily digest and the once-a-day run that sends it."""
