"""The generator's fixtures: one tiny pipeline and one platform signing identity per run."""

import pytest

from clearhouse.settings import Settings
from generator.pipeline import ClipPipeline, load_configured_pipeline
from generator.signing_identity import SigningIdentity, configured_signing_identity


@pytest.fixture(scope="session")
def generator_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings with no model directory and no certificates: the embedded defaults, made in
    a data dir of the run's own."""
    return Settings(data_dir=tmp_path_factory.mktemp("generator-data"))


@pytest.fixture(scope="session")
def clip_pipeline(generator_settings: Settings) -> ClipPipeline:
    """The tiny untrained pipeline, built into the data dir's models/ and loaded from there."""
    return load_configured_pipeline(generator_settings)


@pytest.fixture(scope="session")
def platform_signer(generator_settings: Settings) -> SigningIdentity:
    return configured_signing_identity(generator_settings)


@pytest.fixture(scope="session")
def platform_ca(generator_settings: Settings, platform_signer: SigningIdentity) -> bytes:
    """The PEM certificate of the platform's self-made CA, which issued ``platform_signer``."""
    return (generator_settings.key_dir / "provenance-ca.crt").read_bytes()
