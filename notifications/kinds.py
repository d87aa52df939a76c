"""The kinds of notice, each with the sentence its inbox line and digest start with.

Adding a kind is one line here: the stored kind is a plain string (no migration), webhook
endpoints subscribe to kinds by name, and the inbox, digest and webhook all read the summary.
"""

from enum import StrEnum


class NoticeKind(StrEnum):
    summary: str

    def __new__(cls, value: str, summary: str) -> "NoticeKind":
        kind = str.__new__(cls, value)
        kind._value_ = value
        kind.summary = summary
        return kind

    use_released = "use.released", "A generation that used your asset was released."
    use_blocked = "use.blocked", "A request or an output that touched your asset was blocked."
    use_cancelled = "use.cancelled", "A generation of your asset was cancelled before release."
    approval_pending = "approval.pending", "A request for your asset waits for your answer."
    consent_withdrawn = "consent.withdrawn", "Your withdrawal of consent took effect."
    clearance_revoked = "clearance.revoked", "A clearance you hold can no longer be used."
    generation_taken_down = (
        "generation.taken_down",
        "A released generation of yours was taken down: its video is no longer served.",
    )
    endpoint_disabled = "webhook.endpoint_disabled", "A webhook endpoint of yours was disabled."
    overlap_opened = "overlap.opened", "An asset of yours overlaps another: moderators decide."
    overlap_decided = "overlap.decided", "Moderators decided an overlap case about your asset."
    claim_decided = "claim.decided", "Staff decided your claim to an asset."
    dispute_opened = "dispute.opened", "A dispute about an asset was opened: its holder answers."
    dispute_answered = "dispute.answered", "The holder answered a dispute: staff decide."
    dispute_message = "dispute.message", "A new message in a dispute you are a party to."
    dispute_answer_due = "dispute.answer_due", "A dispute about your asset needs your answer soon."
    dispute_answer_overdue = (
        "dispute.answer_overdue",
        "A dispute's answer is overdue: staff may now decide it unanswered.",
    )
    dispute_decided = "dispute.decided", "Staff decided a dispute you are a party to."
    offer_made = "offer.made", "An owner offers you a licence for an output that was blocked."
    offer_accepted = "offer.accepted", "A creator accepted your licence offer."
    offer_declined = "offer.declined", "A creator declined your licence offer."
    offer_lapsed = "offer.lapsed", "A licence offer lapsed unanswered: the output stays blocked."
    invitation_received = (
        "invitation.received",
        "You are invited to act as someone's agent or to join an organisation: accept or decline.",
    )
