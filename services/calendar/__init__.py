"""Calendar service: clients, scheduled posts, pausing paid posts when a budget runs out."""
