"""Operator settings, read from ``CLEARHOUSE_*`` environment variables (or a ``.env`` file)."""

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLEARHOUSE_", env_file=".env", extra="ignore")

    data_dir: Path = Field(
        default=Path("./var"),
        description="Keys, the SQLite database and media live here.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; by default a SQLite file (WAL) in the data dir.",
    )
    migrate_on_start: bool = Field(default=True, description="Apply Alembic migrations on start.")

    issuer: str = Field(default="clearhouse", description="`iss` of tokens and receipts.")
    audience: str = Field(default="clearhouse-api", description="`aud` of access tokens.")
    access_token_minutes: int = Field(default=60, ge=1, le=24 * 60)
    access_token_key_pem: str | None = Field(
        default=None, description="ES256 private key (PEM) for access tokens; else a key file."
    )
    receipt_key_pem: str | None = Field(
        default=None, description="ES256 private key (PEM) for consent receipts; else a key file."
    )

    password_hash_time_cost: int = Field(default=3, ge=1, description="argon2id passes.")
    password_hash_memory_kib: int = Field(
        default=64 * 1024, ge=8, description="argon2id memory (RFC 9106's second choice: 64 MiB)."
    )

    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Where users reach this API; emailed links and receipts' status URLs start "
        "with it.",
    )
    email_verification_hours: int = Field(
        default=48, ge=1, le=30 * 24, description="How long an email verification link works."
    )
    smtp_host: str | None = Field(
        default=None, description="SMTP server for outgoing mail; unset: mail stays in the outbox."
    )
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = Field(default=True, description="Upgrade the SMTP connection to TLS.")
    smtp_username: str | None = None
    smtp_password: str | None = None
    mail_from: str = Field(default="Clearhouse <no-reply@clearhouse.example>")
    mail_retry_seconds: float = Field(
        default=60.0, gt=0, description="How often mail that failed to send is tried again."
    )
    notice_poll_seconds: float = Field(
        default=30.0,
        gt=0,
        description="How often the notice worker looks for webhook deliveries that are due and "
        "digests to email (it wakes at once when this process writes a notice).",
    )
    notice_round_gap_seconds: float = Field(
        default=0.5,
        ge=0,
        description="The least time between two rounds of the notice worker: under a stream of "
        "uses the notices of that moment go out in one round, not one round per commit.",
    )
    notice_worker: bool = Field(
        default=True,
        description="Send webhook deliveries and email digests from a thread of the API process; "
        "off: `clearhouse notices send` does it (from cron, or one process with it on).",
    )
    webhook_max_attempts: int = Field(
        default=8, ge=1, le=30, description="Attempts at one webhook delivery before it fails."
    )
    webhook_retry_seconds: float = Field(
        default=30.0,
        gt=0,
        description="The pause after a delivery's first failed attempt; it doubles after each "
        "(capped at a day).",
    )
    webhook_disable_after: int = Field(
        default=20,
        ge=1,
        description="Consecutive failed attempts, across deliveries, after which an endpoint is "
        "disabled and its owner told.",
    )
    webhook_timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, description="How long one delivery waits for an answer."
    )
    webhook_secret_overlap_hours: float = Field(
        default=24.0,
        ge=0,
        le=24 * 30,
        description="After a webhook secret is rotated, the old one goes on signing (beside the "
        "new) this long unless the owner says otherwise, so receivers switch without a gap.",
    )
    webhook_allow_private_addresses: bool = Field(
        default=False,
        description="Accept webhook endpoints at loopback, private or link-local addresses; off, "
        "nobody can make this server call into its own network.",
    )
    handle_reserved_days: int = Field(
        default=365,
        ge=0,
        description="A deleted or changed handle (and its look-alikes) stays reserved this long.",
    )

    controller_name: str = Field(default="Clearhouse", description="Data controller on receipts.")
    controller_contact: str = Field(default="privacy@clearhouse.example")
    jurisdiction: str = Field(default="EU", description="Jurisdiction named on consent receipts.")
    policy_url: str = Field(default="https://clearhouse.example/privacy")

    default_revenue_share_bps: int = Field(
        default=8000, ge=0, le=10_000, description="A new holder's share of each licence fee."
    )

    # Money on Stripe (payouts/stripe_gateway.py): off unless a secret key is set.
    stripe_secret_key: str | None = Field(
        default=None,
        description="Stripe secret key; unset: Stripe is off (balances and statements are "
        "computed, no card is charged and no transfer is sent).",
    )
    stripe_api_base: str = Field(
        default="https://api.stripe.com",
        description="Where the Stripe API answers; a local Stripe-compatible server in tests.",
    )
    stripe_webhook_secret: str | None = Field(
        default=None, description="The signing secret of Stripe's webhook endpoint (whsec_...)."
    )
    payout_minimum_minor: int = Field(
        default=1000,
        ge=1,
        description="A holder's payable is paid out once it holds at least this many minor "
        "units (in any currency); less waits for a later run (payouts/runs.py).",
    )

    # Credits (payouts/allowance.py): a creator's free credits each UTC month.
    free_monthly_credits_minor: int = Field(
        default=1000,
        ge=0,
        le=10_000_000,
        description="Credits given to each creator once per UTC month, at their first "
        "clearance that costs something; they stay in the wallet like bought ones. 0 turns "
        "the allowance off.",
    )
    free_monthly_credits_currency: str = Field(
        default="USD", pattern=r"^[A-Z]{3}$", description="ISO 4217, upper case."
    )

    # Clearance (policies/evaluator.py, licensing/tokens.py).
    minor_daily_generation_limit: int = Field(
        default=20, ge=0, description="Generations a requester under 18 may have each UTC day."
    )
    clearance_token_minutes: int = Field(
        default=10,
        ge=1,
        le=24 * 60,
        description="How long a clearance token lets a generator start its generation.",
    )
    approval_hours: int = Field(
        default=72,
        ge=1,
        le=90 * 24,
        description="How long an owner has to answer a request that waits for them, and how "
        "long their yes then lets the requester send that request again.",
    )
    decline_days: int = Field(
        default=30,
        ge=1,
        le=365,
        description="How long an owner's no to a requester stands: until then that requester's "
        "requests for the asset are refused without asking the owner again, unless the owner "
        "consents to a new policy version or approves the declined request after all.",
    )
    invitation_days: int = Field(
        default=14,
        ge=1,
        le=365,
        description="How long an invitation to be someone's agent or an organisation's member "
        "waits for its answer; unanswered by then, it can no longer be accepted.",
    )
    dispute_answer_days: int = Field(
        default=14,
        ge=1,
        le=365,
        description="How long a holder has to answer a dispute about their asset; after it "
        "staff may decide the dispute unanswered.",
    )
    dispute_reminder_hours: int = Field(
        default=48,
        ge=1,
        le=365 * 24,
        description="How long before a dispute's answer is due its holder is reminded (once, "
        "by the notice worker's round; at once when the whole window is shorter).",
    )
    licence_offer_hours: int = Field(
        default=72,
        ge=1,
        le=90 * 24,
        description="How long a creator has to accept an owner's licence offer for a blocked "
        "output (licensing/offers/); unanswered, it lapses and the output stays blocked.",
    )
    held_output_hours: int = Field(
        default=72,
        ge=1,
        le=90 * 24,
        description="How long our generator keeps a blocked output's clip for its owners to "
        "offer licences: after it no offer can be made, and the clip (which may show someone "
        "who did not consent) is deleted once no offer made in time is still open.",
    )
    clearance_audience: str = Field(
        default="clearhouse-generators",
        description="`aud` of clearance tokens: the generators, ours or third parties', that "
        "run a cleared request.",
    )

    # Likeness: faces are biometric data.
    face_backend: Literal["dlib", "insightface"] = Field(
        default="dlib", description="dlib on the CPU (weights from PyPI), or insightface ONNX."
    )
    insightface_model_dir: Path | None = Field(
        default=None, description="SCRFD + ArcFace ONNX files; operators bring licensed weights."
    )
    face_match_threshold: float | None = Field(
        default=None,
        ge=-1,
        le=1,
        description="Cosine similarity; the model's own default if unset.",
    )
    face_index_approximate_after: int | None = Field(
        default=None, ge=1, description="Templates past which a model is searched with FAISS."
    )
    face_index_shards: int | None = Field(
        default=None,
        ge=1,
        description="With `ray_address` set: split the face index over this many Ray actors "
        "shared by every API process (likeness/index/sharded.py); unset: each process holds "
        "the whole index in its own memory.",
    )
    face_index_shard_deadline_seconds: float = Field(
        default=2.0,
        gt=0,
        description="How long a face search waits for every index shard; a shard that has "
        "not answered by then makes the search a 503 with Retry-After, never a partial answer.",
    )
    face_master_key: str | None = Field(
        default=None,
        description="Base64 AES-256 key wrapping each likeness's data key; else a key file.",
    )
    likeness_key_store: Path | None = Field(
        default=None,
        description="SQLite file of the likeness data keys, apart from the main database "
        "(keys/likeness-keys.db in the data dir if unset). Deleting a likeness destroys its key "
        "here, so a restored database backup cannot decrypt its templates.",
    )
    clip_dir: Path | None = Field(
        default=None,
        description="Folder of the generated clips, released and held (generations/ in the "
        "data dir if unset). API machines beyond one share it (a network filesystem): a clip "
        "is written whole before its job is released and never changed after.",
    )
    likeness_key_store_url: str | None = Field(
        default=None,
        description="A PostgreSQL database of its own for the likeness data keys, instead of "
        "the SQLite file: for API processes on several machines. Refused if it holds the "
        "main database's tables.",
    )
    liveness_required: bool = Field(
        default=True,
        description="False accepts still photos, for operators who verify identity elsewhere.",
    )
    enrolment_minutes: int = Field(default=15, ge=1, le=24 * 60)
    template_retention_days: int = Field(
        default=3 * 365,
        ge=1,
        description="Templates of a likeness idle this long are destroyed (BIPA).",
    )
    body_max_bytes: int = Field(
        default=1024 * 1024,
        ge=1,
        description="Request body limit of every route but the uploads (JSON and forms).",
    )
    scan_max_bytes: int = Field(
        default=50 * 1024 * 1024,
        ge=1,
        description="Body limit of the upload routes: every file of one request together.",
    )
    scan_max_pixels: int = Field(
        default=40_000_000, ge=1, description="Pixels of one image or video frame as uploaded."
    )
    scan_max_video_seconds: float = Field(default=30.0, gt=0)
    scan_sample_fps: float = Field(default=2.0, gt=0, le=30)
    media_max_side: int = Field(
        default=1280,
        ge=160,
        description="Frames are shrunk while decoded to this longer side; detection needs no more.",
    )
    upload_max_pixels: int = Field(
        default=64_000_000,
        ge=1,
        description="Pixels of the frames one request keeps for face detection, after shrinking.",
    )
    upload_max_decoded_pixels: int = Field(
        default=2_000_000_000,
        ge=1,
        description="Pixels decoders may produce for one request; every video frame counts.",
    )
    request_threads: int = Field(
        default=4,
        ge=1,
        description="Threads of one process that run route handlers, on top of one for each "
        "upload admitted to media work: few threads served in turn keep the slowest answers "
        "fast, where many contend for Python's one interpreter lock.",
    )
    text_model_threads: int = Field(
        default=1,
        ge=1,
        description="Threads that embed one text for the IP text check: one sentence is "
        "little work, and on a busy machine a pass split over two threads waits for whichever "
        "was descheduled; requests run side by side on the cores instead.",
    )
    warm_up: bool = Field(
        default=True,
        description="Load the text checks (the sentence model, the content check, the catalogue) "
        "in the background as the process starts, so the first clearance does not wait for "
        "them; GET /readyz answers 200 once they are loaded.",
    )
    blas_threads: int = Field(
        default=1,
        ge=1,
        description="Threads NumPy's BLAS may use for one matrix product in an API process (the "
        "IP text check's search of every asset, exact face search on the CPU): requests run side "
        "by side on the cores, and on a busy machine a product split over threads waits for "
        "whichever was descheduled (the search of 10,000 assets took 9 ms instead of 1).",
    )
    media_concurrency: int = Field(
        default=2,
        ge=1,
        description="Worker processes of one API process that decode uploads and detect faces.",
    )
    media_worker_niceness: int = Field(
        default=10,
        ge=0,
        le=19,
        description="How much media workers lower their CPU priority (nice), so that request "
        "handling gets the cores first.",
    )
    media_queue_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How long a request waits for a free decode before a 503 with Retry-After.",
    )

    clip_model_dir: Path | None = Field(
        default=None,
        description="A transformers CLIP model directory (CLIPVisionModelWithProjection and "
        "its image processor, safetensors weights, as save_pretrained writes it): reference "
        "and input pictures are also compared by its embeddings. Unset: by fingerprints only. "
        "Nothing is downloaded; operators bring the weights.",
    )
    clip_min_cosine: float = Field(
        default=0.9,
        gt=0,
        le=1,
        description="Cosine of CLIP embeddings at or above which an input picture matches a "
        "reference; not calibrated against real weights here (none could be fetched).",
    )
    reference_images_per_asset: int = Field(
        default=10,
        ge=1,
        le=100,
        description="Reference pictures one character or style may hold for the IP image check.",
    )

    # The generator (generator/).
    generator_model_dir: Path | None = Field(
        default=None,
        description="A diffusers text-to-image model directory (model_index.json, safetensors "
        "weights), loaded with from_pretrained; unset: a tiny untrained pipeline built once into "
        "the data dir's models/, whose frames are noise.",
    )
    generator_compile: bool = Field(
        default=False,
        description="Compile the diffusion model's UNet with torch.compile when the pipeline "
        "loads: on an H200, 29% more 512x512 clips a minute, but every new frame size or "
        "batch of frames first compiles for about a minute (the clip waits); for GPU nodes "
        "that make clips of a few sizes.",
    )
    generation_worker: bool = Field(
        default=True,
        description="Run queued generation jobs in a thread of the API process; off: another "
        "process runs them (`clearhouse generate`, or several API processes with one on).",
    )
    generator_threads: int = Field(
        default=1,
        ge=1,
        description="CPU threads torch uses for a generation: one keeps a small machine's "
        "cores from waiting on each other (and leaves one for requests).",
    )
    generation_lease_seconds: float = Field(
        default=300.0,
        gt=0,
        description="A running job whose worker has shown no sign of life (a denoising step, a "
        "phase begun) for this long is taken to have stopped: retried or failed.",
    )
    generation_max_attempts: int = Field(
        default=3, ge=1, description="Times a job is run before it fails for good."
    )
    generation_queue_max: int = Field(
        default=100,
        ge=1,
        description="Queued generation jobs at which `POST /v1/generations` answers 503 with "
        "Retry-After instead of clearing and queueing another.",
    )
    ray_address: str | None = Field(
        default=None,
        description="A Ray cluster's address (`auto`, `host:port`, `ray://host:port`): queued "
        "generation jobs run on Ray actors that each keep a loaded pipeline (one GPU each where "
        "the cluster has GPUs); unset: the in-process worker runs them.",
    )
    ray_generation_actors: int = Field(
        default=1,
        ge=1,
        description="Ray actors running generations when `ray_address` is set: jobs run this "
        "many at a time.",
    )
    ray_scan_actors: int = Field(
        default=1,
        ge=1,
        description="Ray actors finding and embedding faces when `ray_address` is set (one "
        "loaded face backend each; a GPU each for insightface where the cluster has GPUs): "
        "scans, clearances, output checks and enrolments of one API process send their frames "
        "to them, and that many requests are worked on at once (or `media_concurrency`, if more).",
    )
    ray_start_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How long a process waits at start for its Ray actors (scan actors, face "
        "index shards, generation actors) to load; past it the start fails, naming the CPUs and "
        "GPUs the cluster has (an actor the cluster cannot place would otherwise wait for ever).",
    )
    ray_scan_batch: int = Field(
        default=8,
        ge=1,
        le=256,
        description="Frames one call to a Ray scan actor takes: a video's sampled frames are "
        "sent in batches of this many, spread over the actors.",
    )
    generation_poll_seconds: float = Field(
        default=2.0,
        gt=0,
        description="How often the worker looks for jobs queued by other processes and for "
        "running jobs whose worker stopped.",
    )
    provenance_cert_chain: Path | None = Field(
        default=None,
        description="PEM certificates that sign C2PA manifests, the end-entity first (ES256, "
        "digitalSignature, emailProtection); unset: a self-made CA and certificate in keys/.",
    )
    provenance_key: Path | None = Field(
        default=None, description="PEM private key (P-256) of the chain's end-entity certificate."
    )
    provenance_trust_anchors: Path | None = Field(
        default=None,
        description="PEM CA certificates whose signatures `clearhouse verify` trusts; unset: "
        "the self-made CA in keys/, when it exists.",
    )

    # Metrics and logs (clearhouse/metrics.py, clearhouse/logs.py).
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Also serve /metrics, with no authentication, on 127.0.0.1 at this port "
        "(from the `serve` process, for a scraper on the same machine); unset: only admins "
        "read it, at /metrics on the API.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="`clearhouse serve`'s log lines: readable text, or one JSON object a line "
        "(time, level, logger, message, request_id; route and status on access lines).",
    )

    # Rate limits (clearhouse/rate_limit.py).
    redis_url: str | None = Field(
        default=None,
        description="Redis shared by every API process for rate limits; else each process counts.",
    )
    redis_key_prefix: str = Field(
        default="clearhouse:rate-limit:", description="Prefix of every rate-limit key in Redis."
    )
    sign_in_limit_per_account: int = Field(
        default=10, ge=1, description="Failed sign-ins per email tried, per window."
    )
    sign_in_limit_per_address: int = Field(
        default=50, ge=1, description="Failed sign-ins per client address, per window."
    )
    sign_in_limit_minutes: int = Field(default=15, ge=1, le=24 * 60)
    api_key_limit_per_minute: int = Field(
        default=600, ge=1, description="Requests per API key within any minute."
    )
    mail_limit_per_recipient: int = Field(
        default=5,
        ge=1,
        description="Sign-ups and verification links per email address within an hour: nobody "
        "fills another person's inbox.",
    )
    mail_limit_per_address: int = Field(
        default=20,
        ge=1,
        description="Sign-ups and verification links per client address within an hour.",
    )
    checkpoint_verify_limit_per_minute: int = Field(
        default=30, ge=1, description="Audit checkpoint verifications per account within a minute."
    )
    dispute_limit_per_hour: int = Field(
        default=10,
        ge=1,
        description="Disputes one account may open within an hour: each tells the asset's "
        "holder and holds its new earnings until staff decide.",
    )
    invitation_limit_per_hour: int = Field(
        default=20,
        ge=1,
        description="Invitations (to be an agent, to join an organisation) one account may send "
        "within an hour: each may tell the invitee, so nobody floods a person with them.",
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default=["localhost", "127.0.0.1"],
        description="Host names (comma-separated; `*.example.com` for subdomains) this server "
        "answers for; any other Host header is refused.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="Addresses or networks (comma-separated) whose X-Forwarded-For is believed.",
    )

    @field_validator("allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            value = [item.strip() for item in value.split(",") if item.strip()]
        for pattern in value if isinstance(value, list) else []:
            if "*" in pattern[1:] or (pattern[:1] == "*" and pattern[:2] not in ("*", "*.")):
                raise ValueError(f"{pattern!r}: a wildcard host is `*` or like `*.example.com`")
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_proxies(cls, value: object) -> object:
        if isinstance(value, str):
            value = [item.strip() for item in value.split(",") if item.strip()]
        return [str(ipaddress.ip_network(item, strict=False)) for item in value]

    @model_validator(mode="after")
    def _chain_with_its_key(self) -> "Settings":
        if (self.provenance_cert_chain is None) != (self.provenance_key is None):
            raise ValueError(
                "set CLEARHOUSE_PROVENANCE_CERT_CHAIN and CLEARHOUSE_PROVENANCE_KEY together, "
                "or neither (to sign with the self-made certificate in the data dir)"
            )
        return self

    @model_validator(mode="after")
    def _shards_on_ray(self) -> "Settings":
        if self.face_index_shards is not None and self.ray_address is None:
            raise ValueError(
                "CLEARHOUSE_FACE_INDEX_SHARDS puts the face index on Ray actors: set "
                "CLEARHOUSE_RAY_ADDRESS too, or unset it to keep the index in process"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'clearhouse.db').resolve()}"

    @property
    def key_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def generations_dir(self) -> Path:
        """Where generated clips are kept: the signed MP4 of each released generation."""
        return self.clip_dir or self.data_dir / "generations"

    @property
    def likeness_key_store_path(self) -> Path:
        return self.likeness_key_store or self.key_dir / "likeness-keys.db"
