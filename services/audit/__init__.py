"""Audit service: own vs competitor accounts; for now a per-client summary of what was ingested."""
