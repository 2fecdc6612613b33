"""Hand-offs to the company's CRM: what a converted lead becomes there."""
