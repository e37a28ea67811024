"""What a member sees of their card: level, benefits, and how far the next level is."""

from dataclasses import dataclass
from datetime import datetime

from hub.models.member import Member
from hub.services.levels import MemberFacts, gather_facts
from hub.services.programme import CardInfo, LevelInfo, load_programme


@dataclass(frozen=True)
class RuleProgress:
    """One way to the next level: e.g. spend 200000 fen within 12 months, 54000 so far."""

    rule: str  # rolling_spend, cumulative_spend or invites
    required: int
    current: int
    months: int | None = None


@dataclass(frozen=True)
class CardView:
    card: CardInfo | None
    level: LevelInfo | None
    next_level: LevelInfo | None
    # Any one rule reached is enough.
    progress: tuple[RuleProgress, ...]


async def card_view(member: Member, now: datetime) -> CardView:
    """The member's card and level (the default card's entry level if not enrolled yet)."""
    programme = await load_programme(member.brand_id)
    card = programme.cards.get(member.card_type_id or 0) or programme.default_card
    if card is None:
        return CardView(None, None, None, ())
    level = programme.level(member.level_id) or card.levels[0]
    following = next((other for other in card.levels if other.rank > level.rank), None)
    if following is None:
        return CardView(card, level, None, ())
    facts = await gather_facts(member, (following,), now)
    return CardView(card, level, following, progress_towards(following, facts))


def progress_towards(level: LevelInfo, facts: MemberFacts) -> tuple[RuleProgress, ...]:
    """Each rule of `level` with where the member stands."""
    progress = []
    if level.rolling_spend_fen is not None and level.rolling_months is not None:
        spent = facts.rolling_spend_fen.get(level.rolling_months, 0)
        progress.append(
            RuleProgress("rolling_spend", level.rolling_spend_fen, spent, level.rolling_months)
        )
    if level.cumulative_spend_fen is not None:
        progress.append(
            RuleProgress("cumulative_spend", level.cumulative_spend_fen, facts.cumulative_spend_fen)
        )
    if level.min_invites is not None:
        progress.append(RuleProgress("invites", level.min_invites, facts.invites))
    return tuple(progress)
