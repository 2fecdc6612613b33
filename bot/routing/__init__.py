"""Distribution: who gets a new lead (claim, round robin, least loaded, sticky, rules), offers
passing on, leads waiting for somebody on duty."""
