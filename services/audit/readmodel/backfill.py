"""`python -m services.audit.readmodel.backfill`: rebuild the audit's year summaries from its
month buckets, for a read model folded before they existed. Run it with the audit service
stopped; until it has run, audits read whole years from the month buckets (same answer, slower).
"""

from __future__ import annotations

import asyncio

from services.audit.readmodel.repository import INDEXES, ReadModel
from services.audit.settings import AuditSettings
from shared import mongo


async def main() -> None:
    settings = AuditSettings()
    client = mongo.connect(settings.mongodb_uri, app_name="audit-backfill")
    try:
        db = client[settings.database_name]
        await mongo.ensure_indexes(db, INDEXES)
        print(f"{await ReadModel(db).backfill_years()} year summaries rebuilt")
    finally:
        await client.close()


if __name__ == "__main__":
    asyncio.run(main())
