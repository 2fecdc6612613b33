"""The office PBX's HTTP APIs (Zadarma, Mango Office): signed requests, plain answers."""
