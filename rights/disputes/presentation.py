"""A dispute as its parties and staff see it (the API's and the portal's)."""

from rights.claims.schemas import DocumentPublic
from rights.disputes.schemas import DisputeMessagePublic, DisputePublic
from rights.disputes.service import DisputeView


def dispute_public(view: DisputeView) -> DisputePublic:
    dispute, document = view.dispute, view.document
    return DisputePublic(
        id=dispute.id,
        asset_id=dispute.asset_id,
        asset_handle=view.asset.handle,
        kind=dispute.kind,
        status=dispute.status,
        your_side=view.side,
        statement=dispute.statement,
        link=dispute.link,
        document=DocumentPublic.of(document),
        opened_at=dispute.opened_at,
        answer_due_at=dispute.answer_due_at,
        answered_at=dispute.answered_at,
        decided_at=dispute.decided_at,
        decision_reason=dispute.decision_reason,
        messages=[
            DisputeMessagePublic(
                side=message.side,
                body=message.body,
                is_answer=message.is_answer,
                written_at=message.written_at,
            )
            for message in view.messages
        ],
    )
