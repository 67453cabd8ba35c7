"""Contracts and plumbing shared by every SocialOps service: events, topics, broker, database,
auth."""
