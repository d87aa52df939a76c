"""Policy evaluator throughput: decisions per second in one process, on requests that touch
1-5 registered assets, each with one or two grants and the policy versions they bind.

The inputs are built once, as clearance would hand them over after its one query (policy
documents already parsed); the loop times :func:`policies.evaluator.evaluate` alone. The
mix gives all three outcomes: characters and styles open to anyone, likenesses listing a
few accounts, policies with limits, exclusions, expiry and owner approval, revoked grants,
minors on both sides. Prints one JSON line.

    .venv/bin/python bench/evaluator.py [--seconds 5]
"""

import argparse
import json
import random
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

# Run as a script, Python puts bench/ first on the path: put the repository root there.
sys.path[0] = str(Path(__file__).resolve().parents[1])

from policies.document import Audience, ContentCategory, PolicyDocument, Price, Use
from policies.evaluator import evaluate
from policies.facts import (
    AssetUsage,
    GenerationRequest,
    GrantSnapshot,
    MatchedAsset,
    OwnerApproval,
    PolicySnapshot,
    Requester,
)
from rights.models import AssetKind, GrantStatus

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
MINOR_DAILY_LIMIT = 20
ADULT, MINOR = date(1988, 4, 2), date(2011, 9, 30)


def _document(rng: random.Random, kind: AssetKind, requester: uuid.UUID) -> PolicyDocument:
    listed = kind == AssetKind.likeness and rng.random() < 0.6
    accounts = [uuid.uuid4() for _ in range(rng.randint(1, 20))]
    if listed and rng.random() < 0.7:
        accounts[rng.randrange(len(accounts))] = requester
    return PolicyDocument(
        audience=Audience.listed
        if listed
        else rng.choice([Audience.anyone] * 9 + [Audience.nobody]),
        listed_accounts=accounts if listed else [],
        allowed_uses=rng.sample(list(Use), rng.randint(2, len(Use))),
        excluded_content=rng.sample(list(ContentCategory), rng.randint(0, 3)),
        minors_may_use=rng.random() < 0.3,
        approval_required=rng.random() < 0.15,
        price=Price(per_use_minor=rng.randint(0, 500), per_second_minor=rng.randint(0, 20)),
        daily_use_limit=rng.choice([None, None, 100, 1000]),
        total_use_limit=rng.choice([None, None, 100_000]),
        expires_at=rng.choice(
            [None, None, None, NOW + timedelta(days=30), NOW - timedelta(days=1)]
        ),
    )


def _matched_asset(rng: random.Random, requester: uuid.UUID) -> MatchedAsset:
    kind = rng.choice([AssetKind.character] * 3 + [AssetKind.style, AssetKind.likeness])
    asset_id = uuid.uuid4()
    grants = []
    for version in range(1, rng.randint(1, 2) + 1):
        policy = PolicySnapshot(
            id=uuid.uuid4(),
            asset_id=asset_id,
            version=version,
            document=_document(rng, kind, requester),
        )
        revoked = rng.random() < 0.05
        grants.append(
            GrantSnapshot(
                id=uuid.uuid4(),
                asset_id=asset_id,
                policy_version_id=policy.id,
                status=GrantStatus.revoked if revoked else GrantStatus.active,
                revoked_at=NOW - timedelta(hours=1) if revoked else None,
                policy=policy,
            )
        )
    return MatchedAsset(
        id=asset_id,
        kind=kind,
        handle=f"{kind.value}_{asset_id.hex[:8]}",
        owner_id=uuid.uuid4(),
        owner_date_of_birth=MINOR if rng.random() < 0.03 else ADULT,
        grants=tuple(grants),
        usage=AssetUsage(today=rng.randint(0, 120), total=rng.randint(0, 50_000)),
    )


def build_cases(count: int, *, seed: int = 8) -> list[tuple]:
    """``count`` requests, each with its matched assets and the requester's approvals."""
    rng = random.Random(seed)
    cases = []
    for _ in range(count):
        requester = Requester(
            account_id=uuid.uuid4(),
            date_of_birth=MINOR if rng.random() < 0.1 else ADULT,
            generations_today=rng.randint(0, 25),
        )
        request = GenerationRequest(
            requester=requester,
            digest=rng.randbytes(32).hex(),
            declared_use=rng.choice([Use.personal] * 3 + list(Use)),
            content_categories=frozenset(
                rng.sample(list(ContentCategory), rng.choice([0, 0, 0, 1]))
            ),
        )
        assets = tuple(_matched_asset(rng, requester.account_id) for _ in range(rng.randint(1, 5)))
        approvals = tuple(
            OwnerApproval(
                asset_id=asset.id,
                requester_id=requester.account_id,
                request_digest=request.digest,
                expires_at=NOW + timedelta(hours=1),
            )
            for asset in assets
            if rng.random() < 0.1
        )
        cases.append((request, assets, approvals))
    return cases


def measure_evaluator(seconds: float) -> dict:
    """Decisions per second of :func:`evaluate` over realistic inputs, for ``seconds``."""
    cases = build_cases(500)
    outcomes: Counter[str] = Counter()
    decisions = assets_judged = 0
    started = time.perf_counter()
    elapsed = 0.0
    while elapsed < seconds or decisions == 0:
        for request, assets, approvals in cases:
            decision = evaluate(
                request,
                assets=assets,
                approvals=approvals,
                now=NOW,
                minor_daily_generation_limit=MINOR_DAILY_LIMIT,
            )
            outcomes[decision.outcome.value] += 1
            assets_judged += len(assets)
        decisions += len(cases)
        elapsed = time.perf_counter() - started
    return {
        "decisions": decisions,
        "seconds": round(elapsed, 3),
        "decisions_per_second": round(decisions / elapsed),
        "assets_per_decision": round(assets_judged / decisions, 2),
        "outcomes": dict(sorted(outcomes.items())),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    print(json.dumps(measure_evaluator(args.seconds)))


if __name__ == "__main__":
    main()
