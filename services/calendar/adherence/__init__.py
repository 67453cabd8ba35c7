"""Plan adherence (issue 9 item 7): the calendar's planned slots against the posts that really
went out (a read model of `PostPublished`, so it does not depend on publishing's internals),
per client, ISO week (in the client's zone) and platform; the achieved against the target mix
of pillars, content types and journey stages; a consistency score; and `AdherenceDropped`
(calendar.adherence.v1) once when a client falls below its threshold.

    score.py       the formulas (pure): README "Plan adherence" states them
    handlers.py    PostPublished -> the read model, then the client is evaluated again
    repository.py  published posts, slots and strategies read, per-client state
    monitor.py     evaluation + the drop event (once per drop) + the Prometheus gauge
    api.py         GET /clients/{id}/adherence, PUT /clients/{id}/adherence/threshold
"""
