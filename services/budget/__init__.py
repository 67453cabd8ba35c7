"""Budget service: budgets in exact money, a spend ledger, thresholds published once."""
