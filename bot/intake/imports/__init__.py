"""Leads brought in from a file (CSV or XLSX): a team's list from Bitrix24, amoCRM, a
spreadsheet, or leadbot's own export. Read as a stream (reading.py), its columns recognised
(columns.py), each row read into a lead (rows.py, values.py, owners.py), counted before
anything is written (preview.py), then applied in batches, each its own commit (apply.py,
store.py), the rows that could not be read written out with the reason (rejected.py).

Imported leads are history: no card, no reminder, no outbox row is ever made for them."""
