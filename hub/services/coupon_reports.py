"""How a coupon template did, by China day and store: issued, redeemed, expired, GMV.

What counts: coupons issued on the day (issued_at); redemptions made on the day (redeemed_at)
and not undone, in the store that redeemed them, with the amount of the order each was used on
(GMV) and what it took off; coupons that expired on the day (valid_until) with uses left.
The redemption rate is over the template's whole life up to the range's last day: coupons used
at least once / coupons issued. Like store performance (hub.services.performance), rows are
fetched with `.values()` and counted here, over at most 92 days of one template.
"""

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from hub.dates import beijing_day, day_start_utc
from hub.models.coupon import Coupon, CouponStatus, CouponTemplate, Redemption
from hub.services.performance import check_range

_RATE_DIGITS = 4


@dataclass
class Tally:
    """Figures of one day, one store on one day, or the whole range."""

    issued: int = 0
    redeemed: int = 0
    expired: int = 0
    gmv_fen: int = 0
    discount_fen: int = 0

    def as_dict(self) -> dict[str, object]:
        return {
            "issued": self.issued,
            "redeemed": self.redeemed,
            "expired": self.expired,
            "gmv_fen": self.gmv_fen,
            "discount_fen": self.discount_fen,
        }


@dataclass
class TemplateReport:
    template: CouponTemplate
    first_day: date
    last_day: date
    days: dict[date, Tally] = field(default_factory=dict)
    store_days: dict[tuple[date, int], Tally] = field(default_factory=dict)
    total: Tally = field(default_factory=Tally)
    # Over the template's life up to last_day: coupons used at least once / coupons issued.
    redemption_rate: float | None = None


async def template_report(
    template: CouponTemplate, first_day: date, last_day: date
) -> TemplateReport:
    """The template's figures per China day from `first_day` to `last_day`, both included.

    Raises:
        InvalidValueError: "range_reversed", "range_too_long", "range_out_of_bounds".
    """
    check_range(first_day, last_day)
    report = TemplateReport(template, first_day, last_day)
    for offset in range((last_day - first_day).days + 1):
        report.days[first_day + timedelta(days=offset)] = Tally()
    start, end = day_start_utc(first_day), day_start_utc(last_day + timedelta(days=1))
    await _count_issued(report, start, end)
    await _count_redeemed(report, start, end)
    await _count_expired(report, start, end)
    report.redemption_rate = await _redemption_rate(template, end)
    return report


async def _count_issued(report: TemplateReport, start: object, end: object) -> None:
    rows = await Coupon.filter(
        template_id=report.template.id, issued_at__gte=start, issued_at__lt=end
    ).values_list("issued_at", flat=True)
    for issued_at in rows:
        report.days[beijing_day(issued_at)].issued += 1  # type: ignore[arg-type]
        report.total.issued += 1


async def _count_redeemed(report: TemplateReport, start: object, end: object) -> None:
    rows = await Redemption.filter(
        template_id=report.template.id,
        redeemed_at__gte=start,
        redeemed_at__lt=end,
        undone_at__isnull=True,
    ).values("redeemed_at", "store_id", "order_amount_fen", "discount_fen")
    for row in rows:
        day = beijing_day(row["redeemed_at"])
        store_day = report.store_days.setdefault((day, int(row["store_id"])), Tally())
        for tally in (report.days[day], store_day, report.total):
            tally.redeemed += 1
            tally.gmv_fen += int(row["order_amount_fen"])
            tally.discount_fen += int(row["discount_fen"])


async def _count_expired(report: TemplateReport, start: object, end: object) -> None:
    rows = await Coupon.filter(
        template_id=report.template.id,
        status=CouponStatus.EXPIRED,
        valid_until__gte=start,
        valid_until__lt=end,
    ).values_list("valid_until", flat=True)
    for valid_until in rows:
        report.days[beijing_day(valid_until)].expired += 1  # type: ignore[arg-type]
        report.total.expired += 1


async def _redemption_rate(template: CouponTemplate, end: object) -> float | None:
    issued = await Coupon.filter(template_id=template.id, issued_at__lt=end).count()
    if not issued:
        return None
    used = await (
        Redemption.filter(template_id=template.id, redeemed_at__lt=end, undone_at__isnull=True)
        .distinct()
        .values_list("coupon_id", flat=True)
    )
    return round(len(Counter(used)) / issued, _RATE_DIGITS)


def report_json(report: TemplateReport) -> dict[str, object]:
    """The report as the APIs answer it."""
    by_store: defaultdict[date, list[dict[str, object]]] = defaultdict(list)
    for (day, store_id), tally in sorted(report.store_days.items()):
        by_store[day].append({"store_id": store_id} | tally.as_dict())
    return {
        "template": {"id": report.template.id, "code": report.template.code},
        "from": report.first_day.isoformat(),
        "to": report.last_day.isoformat(),
        "days": [
            {"day": day.isoformat()} | tally.as_dict() | {"stores": by_store.get(day, [])}
            for day, tally in report.days.items()
        ],
        "total": report.total.as_dict() | {"redemption_rate": report.redemption_rate},
    }
