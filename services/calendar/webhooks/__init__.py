"""Outgoing webhooks for agencies (issue 9 item 5): subscribe a URL to event types; every
matching event (post lifecycle, budget thresholds, goal status, adherence drops) is delivered
once per subscription, signed (`shared.signing`), retried with capped exponential backoff and
jitter, logged per attempt, and the subscription is disabled after N failures in a row
(`WebhookSubscriptionDisabled` on calendar.webhooks.v1).

    api.py         routes: /webhooks (subscribe, list, rotate secret, enable, delivery log)
    handlers.py    Kafka -> one pending delivery per matching subscription (persisted)
    sender.py      background worker: claims due deliveries, POSTs them, records the outcome
    policy.py      pure rules: URL check, backoff with jitter, Retry-After, signature header
    repository.py  subscriptions and deliveries in MongoDB (always scoped by tenant)
"""
