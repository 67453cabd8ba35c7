"""Metrics service: analytics observations in, stored time series and KPIs out."""
