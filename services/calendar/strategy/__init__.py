"""Strategy per client and period: personas, platforms, pillars, content mix, versions."""
