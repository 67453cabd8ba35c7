"""Plan adherence metrics: labelled by tenant only (never a client id)."""

from prometheus_client import Counter, Gauge

from shared.observability import registry

CLIENTS_BELOW = Gauge(
    "socialops_calendar_adherence_clients_below_threshold",
    "Clients whose adherence over their last complete weeks is below their threshold.",
    ["tenant"],
    registry=registry,
)
CLIENTS_EVALUATED = Gauge(
    "socialops_calendar_adherence_clients_evaluated",
    "Clients with a plan in their last complete weeks (the denominator of the gauge above).",
    ["tenant"],
    registry=registry,
)
DROPS = Counter(
    "socialops_calendar_adherence_drops_total",
    "AdherenceDropped events published (once per drop below the threshold).",
    ["tenant"],
    registry=registry,
)
