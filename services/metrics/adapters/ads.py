"""Ad-platform adapters: Meta Marketing API `/insights` rows and Google Ads `searchStream` rows.
Spend is exact Decimal money in the payload's own currency; leads and conversions go to the
observation's own fields; a row of one day is a daily increment from the account's midnight.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from services.metrics.adapters.common import (
    AdapterResult,
    Facts,
    Loc,
    ObservationContext,
    PayloadError,
    Reading,
    SkipKind,
    Skipped,
    skip,
    time_zone,
)
from services.metrics.adapters.google_ads_models import (
    GOOGLE_RATIOS,
    GoogleAdsRow,
    SearchStreamBatch,
)
from services.metrics.adapters.meta_models import (
    ADS_COUNTS,
    ADS_DESCRIPTIVE,
    ADS_RATIOS,
    AdsInsightsResponse,
    AdsInsightsRow,
    exact,
    string_count,
)
from services.metrics.adapters.observations import entity_observations, merge
from shared.events import EntityLevel, Platform, TimeWindow
from shared.money import Money

META_ADS_API = "meta_marketing"
GOOGLE_ADS_API = "google_ads"
MICROS = 6  # Google Ads amounts are in millionths of the account currency

_DAYS_TO_WINDOW = {1: TimeWindow.DAY, 7: TimeWindow.WEEK, 28: TimeWindow.DAYS_28}


class AdsOptions(BaseModel):
    """The ad account's reporting time zone: its days start at midnight there."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    account_timezone: str = Field(
        default="UTC",
        max_length=64,
        description="IANA zone of the ad account (Meta `timezone_name`, Google Ads "
        "`customer.time_zone`); a Google Ads row's own customer.timeZone wins.",
        examples=["Europe/Berlin"],
    )

    @field_validator("account_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        time_zone(value)
        return value


def meta_ads_insights(
    payload: Any, *, context: ObservationContext, account_timezone: str = "UTC"
) -> AdapterResult:
    """Observations from a Marketing API `/insights` response, one per row (ad, ad set,
    campaign or account, per `time_increment` period)."""
    response = AdsInsightsResponse.model_validate(payload)
    response.raise_error()
    if response.data is None:
        raise PayloadError("an insights response has a 'data' list", loc=("data",))
    zone = time_zone(account_timezone)
    results = [
        _meta_row(row, loc=("data", i), zone=zone, context=context)
        for i, row in enumerate(response.data)
    ]
    return merge(results, context=context)


def _meta_row(
    row: AdsInsightsRow, *, loc: Loc, zone: ZoneInfo, context: ObservationContext
) -> AdapterResult:
    window, start = _window(row.date_start, row.date_stop, zone=zone, loc=loc)
    readings = [
        Reading(name, Decimal(string_count(value)), window, start, False, loc=(*loc, name))
        for name in ADS_COUNTS
        if (value := getattr(row, name)) is not None
    ]
    skipped: list[Skipped] = []
    if row.clicks is not None:
        skipped.append(
            skip(
                (*loc, "clicks"),
                SkipKind.IGNORED,
                "all clicks (reactions, expansions, link clicks...); clicks are link clicks "
                "(inline_link_clicks)",
                "clicks",
            )
        )
    leads = None
    for j, action in enumerate(row.actions or []):
        where = (*loc, "actions", j, "value")
        kind = action.action_type
        if kind == "lead":
            leads = _whole(action.value, loc=where)
        elif kind == "link_click":
            readings.append(
                Reading(
                    "link_click", Decimal(_whole(action.value, loc=where)), window, start, False,
                    loc=where, label="actions.link_click",
                )
            )  # fmt: skip
        else:
            reason = (
                "a lead sub-type: the 'lead' action is their total"
                if "lead" in kind
                else "no canonical metric for this action type"
            )
            skipped.append(skip(where, SkipKind.IGNORED if "lead" in kind else SkipKind.UNMAPPED,
                                reason, f"actions.{kind}"))  # fmt: skip
    for name in row.model_extra or {}:
        if name in ADS_RATIOS:
            skipped.append(
                skip((*loc, name), SkipKind.IGNORED, "a ratio: its components are stored", name)
            )
        elif name not in ADS_DESCRIPTIVE:
            skipped.append(skip((*loc, name), SkipKind.UNMAPPED, "not read by this adapter", name))
    spend = None
    if row.spend is not None:
        if row.account_currency is None:
            raise PayloadError(
                "spend without account_currency: request the field", loc=(*loc, "spend")
            )
        spend = _money(exact(row.spend), row.account_currency, loc=(*loc, "account_currency"))
    level, entity_id = _meta_entity(row)
    return entity_observations(
        readings,
        platform=Platform.META_ADS,
        api=META_ADS_API,
        context=context,
        entity_level=level,
        entity_id=entity_id,
        skipped=skipped,
        facts=Facts(
            spend=spend,
            leads=leads,
            window=window,
            window_start=start,
            cumulative=False,
            campaign_id=row.campaign_id,
        ),
        loc=loc,
    )


def _meta_entity(row: AdsInsightsRow) -> tuple[EntityLevel, str | None]:
    """The most specific object of a row; Meta ids are unique across object types."""
    for object_id in (row.ad_id, row.adset_id, row.campaign_id):
        if object_id is not None:
            return EntityLevel.AD, object_id
    return EntityLevel.ACCOUNT, None


def google_ads_search_stream(
    payload: Any, *, context: ObservationContext, account_timezone: str = "UTC"
) -> AdapterResult:
    """Observations from a `googleAds:searchStream` REST response (the JSON array of batches,
    or one batch / a `search` page), one per row and `segments.date`."""
    if isinstance(payload, list):
        batches = TypeAdapter(list[SearchStreamBatch]).validate_python(payload)
        prefixes: list[Loc] = [(i,) for i in range(len(batches))]
    else:
        batches = [SearchStreamBatch.model_validate(payload)]
        prefixes = [()]
    default_zone = time_zone(account_timezone)
    results = []
    skipped: list[Skipped] = []
    for batch, prefix in zip(batches, prefixes, strict=True):
        if batch.error is not None:
            raise PayloadError(
                f"Google Ads API error {batch.error.code}: {batch.error.message}",
                loc=(*prefix, "error"),
            )
        if batch.summaryRow is not None:
            skipped.append(skip((*prefix, "summaryRow"), SkipKind.IGNORED,
                                "the summary of the rows, which are stored"))  # fmt: skip
        for i, row in enumerate(batch.results):
            loc = (*prefix, "results", i)
            results.append(_google_row(row, loc=loc, zone=default_zone, context=context))
    results.append(AdapterResult(skipped=tuple(skipped)))
    return merge(results, context=context)


def _google_row(
    row: GoogleAdsRow, *, loc: Loc, zone: ZoneInfo, context: ObservationContext
) -> AdapterResult:
    if row.segments is None or row.segments.date is None:
        raise PayloadError(
            "select segments.date so that each row covers one day", loc=(*loc, "segments")
        )
    customer = row.customer
    if customer is not None and customer.timeZone is not None:
        try:
            zone = time_zone(customer.timeZone)
        except ValueError as e:
            raise PayloadError(str(e), loc=(*loc, "customer", "timeZone")) from None
    day = row.segments.date
    window, start = _window(day, day, zone=zone, loc=(*loc, "segments", "date"))
    metrics = row.metrics
    readings: list[Reading] = []
    skipped: list[Skipped] = []
    spend = conversions = None
    if metrics is not None:
        mloc = (*loc, "metrics")
        for name in ("impressions", "clicks"):
            value = getattr(metrics, name)
            if value is not None:
                readings.append(Reading(name, Decimal(string_count(value)), window, start, False,
                                        loc=(*mloc, name)))  # fmt: skip
        if metrics.costMicros is not None:
            if customer is None or customer.currencyCode is None:
                raise PayloadError(
                    "cost without a currency: select customer.currency_code",
                    loc=(*mloc, "costMicros"),
                )
            amount = Decimal(string_count(metrics.costMicros)).scaleb(-MICROS)
            spend = _money(amount, customer.currencyCode, loc=(*loc, "customer", "currencyCode"))
        if metrics.conversions is not None:
            if float(metrics.conversions).is_integer():
                conversions = int(metrics.conversions)
            else:
                skipped.append(skip((*mloc, "conversions"), SkipKind.IGNORED,
                                    "fractional (attribution-weighted) conversions are not a "
                                    "count", "conversions"))  # fmt: skip
        for name in metrics.model_extra or {}:
            derived = name in GOOGLE_RATIOS
            skipped.append(
                skip(
                    (*mloc, name),
                    SkipKind.IGNORED if derived else SkipKind.UNMAPPED,
                    "a ratio: its components are stored" if derived else "not read",
                    name,
                )
            )
    level, entity_id = _google_entity(row)
    return entity_observations(
        readings,
        platform=Platform.GOOGLE_ADS,
        api=GOOGLE_ADS_API,
        context=context,
        entity_level=level,
        entity_id=entity_id,
        skipped=skipped,
        facts=Facts(
            spend=spend, conversions=conversions, window=window, window_start=start,
            cumulative=False,
            campaign_id=f"campaign:{row.campaign.id}"
            if row.campaign is not None and row.campaign.id else None,
        ),
        loc=loc,
    )  # fmt: skip


def _google_entity(row: GoogleAdsRow) -> tuple[EntityLevel, str | None]:
    """The most specific resource of a row; ids are per resource type, so they are prefixed."""
    if row.adGroupAd is not None and row.adGroupAd.ad is not None and row.adGroupAd.ad.id:
        return EntityLevel.AD, f"ad:{row.adGroupAd.ad.id}"
    if row.adGroup is not None and row.adGroup.id:
        return EntityLevel.AD, f"ad_group:{row.adGroup.id}"
    if row.campaign is not None and row.campaign.id:
        return EntityLevel.AD, f"campaign:{row.campaign.id}"
    return EntityLevel.ACCOUNT, None


def _window(start: date, stop: date, *, zone: ZoneInfo, loc: Loc) -> tuple[TimeWindow, datetime]:
    """The window of a report period in the account's days: [start midnight, stop + 1 day)."""
    days = (stop - start).days + 1
    window = _DAYS_TO_WINDOW.get(days)
    if window is None:
        raise PayloadError(
            f"a {days}-day period ({start}..{stop}) matches no supported window (1, 7 or 28 "
            "days): request time_increment=1",
            loc=loc if loc[-1] in ("date", "date_stop") else (*loc, "date_stop"),
        )
    return window, datetime.combine(start, time(), zone)


def _whole(value: str, *, loc: Loc) -> int:
    number = exact(value)
    if number != number.to_integral_value():
        raise PayloadError(f"'{value}' is not a whole count", loc=loc)
    return string_count(str(int(number)))


def _money(amount: Decimal, currency: str, *, loc: Loc) -> Money:
    try:
        return Money(amount=amount, currency=currency)
    except ValidationError as e:
        raise PayloadError(e.errors(include_url=False)[0]["msg"], loc=loc) from None
