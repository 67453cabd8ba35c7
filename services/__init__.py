"""The four SocialOps services; each is its own process (`python -m services.<name>`)."""
