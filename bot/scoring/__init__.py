"""The lead score: how likely a lead is to buy, from the team's own closed leads (naive Bayes
over a few facts of each lead), or from configured rules until enough leads are closed.

features.py  the facts of a lead the score looks at (pure)
model.py     counts -> a percent and the factors that moved it; the rule score; AUC (pure)
counts.py    the counts table: read it, add a closed lead, take a reopened one back
recount.py   the full recount (GROUP BY in SQL), the held-out AUC, the nightly run
scores.py    the scores of leads as they are read (cards, lists, the API)
line.py      the card's one line
"""
