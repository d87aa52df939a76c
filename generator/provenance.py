"""The C2PA manifest of a generated clip, signed and embedded in its MP4, and read back.

The manifest says who made the clip (``claim_generator_info``: Clearhouse and its version),
that a trained model made it (a ``c2pa.actions`` assertion whose ``c2pa.created`` action has
the IPTC digital source type ``trainedAlgorithmicMedia``, with the model and the time: the
machine-readable marking EU AI Act art. 50(2) asks of generated video), and under which
permission (our own assertion, ``CLEARANCE_ASSERTION``: the generation, the clearance, each
licence's asset, grant, policy version and price, and the status URL that answers whether
the clip may still be shown, for takedown). The claim is signed with the platform's
certificate (`signing_identity.py`); its hash binds every byte of the MP4 but the manifest's
own box, so a clip changed after signing reads back invalid.

Reading checks the signature and the hashes offline: no remote manifest and no OCSP is
fetched. The signer is trusted only when its chain ends at one of the trust anchors given.
"""

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any, Literal

from generator.signing_identity import SigningIdentity

AI_GENERATED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
# A custom assertion is labelled in reverse-domain notation: the project's placeholder domain
# (clearhouse.example), as in the problem types of clearhouse/errors.py.
CLEARANCE_ASSERTION = "example.clearhouse.clearance"
GENERATOR = "Clearhouse"
MP4 = "video/mp4"
UNTRUSTED = "signingCredential.untrusted"
# What C2PA answers: "Invalid" (a hash or the signature does not match, or the claim is
# malformed), "Valid" (intact, signed by a signer not among the trust anchors) or "Trusted".
ValidationState = Literal["Invalid", "Valid", "Trusted"]


@dataclass(frozen=True)
class Licence:
    """One asset the clip uses, under which grant and policy version, at what price."""

    asset_id: uuid.UUID
    grant_id: uuid.UUID
    policy_version: int
    price_minor: int
    currency: str


@dataclass(frozen=True)
class GenerationRecord:
    """What the manifest states about one generation."""

    generation_id: uuid.UUID
    clearance_id: uuid.UUID
    generated_at: dt.datetime
    model: str
    licences: tuple[Licence, ...]
    status_url: str


def generation_status_url(*, public_url: str, generation_id: uuid.UUID) -> str:
    """Where anyone asks whether a released clip may still be shown."""
    return f"{public_url.rstrip('/')}/v1/generations/{generation_id}/status"


def manifest_definition(record: GenerationRecord) -> dict[str, Any]:
    """The manifest of ``record``, as c2pa's Builder takes it."""
    return {
        "claim_generator_info": [{"name": GENERATOR, "version": version("clearhouse")}],
        "title": f"Clearhouse generation {record.generation_id}",
        "assertions": [
            {
                "label": "c2pa.actions",
                "data": {
                    "actions": [
                        {
                            "action": "c2pa.created",
                            "digitalSourceType": AI_GENERATED,
                            "when": record.generated_at.isoformat(),
                            "softwareAgent": {"name": record.model},
                        }
                    ]
                },
            },
            {
                "label": CLEARANCE_ASSERTION,
                "data": {
                    "generation_id": str(record.generation_id),
                    "clearance_id": str(record.clearance_id),
                    "status_url": record.status_url,
                    "licences": [
                        {
                            "asset_id": str(licence.asset_id),
                            "grant_id": str(licence.grant_id),
                            "policy_version": licence.policy_version,
                            "price": {
                                "amount_minor": licence.price_minor,
                                "currency": licence.currency,
                            },
                        }
                        for licence in record.licences
                    ],
                },
            },
        ],
    }


def sign_clip(
    *, video: Path, destination: Path, record: GenerationRecord, identity: SigningIdentity
) -> None:
    """Write ``video`` (an MP4) to ``destination`` with the signed manifest of ``record``
    embedded; nothing is left at ``destination`` if signing fails."""
    import c2pa

    signer_info = c2pa.C2paSignerInfo(
        alg=b"es256",
        sign_cert=identity.certificate_chain_pem,
        private_key=identity.private_key_pem,
        ta_url=None,  # no timestamp authority (an empty string fails to sign)
    )
    try:
        with (
            c2pa.Signer.from_info(signer_info) as signer,
            c2pa.Builder(manifest_definition(record)) as builder,
            video.open("rb") as source,
            destination.open("w+b") as signed,
        ):
            builder.sign(signer, MP4, source, signed)
    except BaseException:
        destination.unlink(missing_ok=True)
        raise


@dataclass(frozen=True)
class ValidationFailure:
    code: str
    explanation: str


@dataclass(frozen=True)
class Provenance:
    """A clip's manifest as read back, with what its validation found."""

    state: ValidationState
    failures: tuple[ValidationFailure, ...]
    manifest: dict[str, Any]

    @property
    def intact(self) -> bool:
        """Signature and hashes match: the clip and its manifest are as signed."""
        return self.state != "Invalid"

    @property
    def trusted(self) -> bool:
        return self.state == "Trusted"

    @property
    def claim_generator(self) -> str:
        return ", ".join(
            " ".join(str(part) for part in (info.get("name"), info.get("version")) if part)
            for info in self.manifest.get("claim_generator_info", [])
        )

    @property
    def signed_by(self) -> str:
        signature = self.manifest.get("signature_info", {})
        return " / ".join(
            str(signature[part]) for part in ("common_name", "issuer") if signature.get(part)
        )

    @property
    def created(self) -> dict[str, Any] | None:
        """The ``c2pa.created`` action: when, by which model, from what kind of source."""
        for assertion in self._assertions("c2pa.actions"):
            for action in assertion.get("actions", []):
                if action.get("action") == "c2pa.created":
                    return action
        return None

    @property
    def ai_generated(self) -> bool:
        return (self.created or {}).get("digitalSourceType") == AI_GENERATED

    @property
    def clearance(self) -> dict[str, Any] | None:
        """Our assertion: the generation, the clearance, the licences and the status URL."""
        return next(iter(self._assertions(CLEARANCE_ASSERTION)), None)

    def _assertions(self, label: str) -> list[dict[str, Any]]:
        # c2pa writes actions as `c2pa.actions.v2`: a label matches its versions too.
        return [
            assertion.get("data", {})
            for assertion in self.manifest.get("assertions", [])
            if assertion.get("label") == label
            or assertion.get("label", "").startswith(label + ".v")
        ]


def read_provenance(path: Path, *, trust_anchors_pem: bytes | None) -> Provenance | None:
    """The active manifest of the media file at ``path`` and its validation, or None when the
    file carries no C2PA manifest. Raises ``c2pa.C2paError`` for what C2PA cannot read."""
    import c2pa

    settings: dict[str, Any] = {
        "verify": {"verify_trust": True, "remote_manifest_fetch": False, "ocsp_fetch": False}
    }
    if trust_anchors_pem:
        settings["trust"] = {"trust_anchors": trust_anchors_pem.decode()}
    with c2pa.Context.from_dict(settings) as context:
        reader = c2pa.Reader.try_create(str(path), None, None, context)
        if reader is None:
            return None
        with reader:
            store = json.loads(reader.json())
    # A manifest too damaged to load is absent from the store, its failures listed only in
    # `validation_status`.
    results = store.get("validation_results", {}).get("activeManifest", {})
    failures = results.get("failure", store.get("validation_status", []))
    return Provenance(
        state=store["validation_state"],
        failures=tuple(
            ValidationFailure(code=item["code"], explanation=item.get("explanation", ""))
            for item in failures
        ),
        manifest=store.get("manifests", {}).get(store.get("active_manifest"), {}),
    )
