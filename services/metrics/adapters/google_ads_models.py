"""Documented shape of a Google Ads API `googleAds:searchStream` REST response: a JSON array of
SearchGoogleAdsStreamResponse batches `{"results": [GoogleAdsRow], "fieldMask", "summaryRow",
"requestId"}`. REST uses lowerCamelCase (`costMicros`, `currencyCode`) and the proto3 JSON
mapping: int64 fields (ids, clicks, impressions, costMicros) are strings, doubles numbers.

References: developers.google.com/google-ads/api/rest/reference/rest/v14/customers.googleAds/
searchStream, .../google-ads/api/reference/rpc/latest/GoogleAdsRow, .../Metrics, .../Segments.
"""

# Field names are the platform's own JSON names (lowerCamelCase), so a path names the field.
# ruff: noqa: N815

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field, Strict

from services.metrics.adapters.common import PayloadModel
from services.metrics.adapters.meta_models import DigitString

JsonNumber = Annotated[float, Strict(), Field(ge=0, le=1e15, allow_inf_nan=False)]
GOOGLE_RATIOS = frozenset(
    {"ctr", "averageCpc", "averageCpm", "averageCost", "costPerConversion", "conversionsRate"}
)


class Customer(PayloadModel):
    resourceName: str | None = None
    id: DigitString | None = None
    currencyCode: str | None = None
    timeZone: str | None = None


class Resource(PayloadModel):
    resourceName: str | None = None
    id: DigitString | None = None
    name: str | None = None


class AdGroupAd(PayloadModel):
    resourceName: str | None = None
    ad: Resource | None = None


class Metrics(PayloadModel):
    costMicros: DigitString | None = None
    clicks: DigitString | None = None
    impressions: DigitString | None = None
    conversions: JsonNumber | None = None


class Segments(PayloadModel):
    date: dt.date | None = None


class GoogleAdsRow(PayloadModel):
    customer: Customer | None = None
    campaign: Resource | None = None
    adGroup: Resource | None = None
    adGroupAd: AdGroupAd | None = None
    metrics: Metrics | None = None
    segments: Segments | None = None


class GoogleError(PayloadModel):
    code: int | None = None
    message: str
    status: str | None = None


class SearchStreamBatch(PayloadModel):
    results: list[GoogleAdsRow] = Field(default_factory=list)
    fieldMask: str | None = None
    summaryRow: GoogleAdsRow | None = None
    requestId: str | None = None
    error: GoogleError | None = None
