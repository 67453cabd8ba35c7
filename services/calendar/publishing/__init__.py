"""Publishing: due posts go out through connectors, each exactly once (issue 9).

`dispatcher` claims due posts (leases) and publishes them; `lifecycle` holds the pure rules
(transitions, backoff); `repository` every write (one conditional write per transition, its
event in the outbox); `connectors/` one module per destination; `api` the routes."""
