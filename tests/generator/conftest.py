"""The generator's fixtures: one tiny pipeline per run."""

import pytest

from clearhouse.settings import Settings
from generator.pipeline import ClipPipeline, load_configured_pipeline


@pytest.fixture(scope="session")
def generator_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """Settings with no model directory and no certificates: the embedded defaults, made in
    a data dir of the run's own."""
    return Settings(data_dir=tmp_path_factory.mktemp("generator-data"))


@pytest.fixture(scope="session")
def clip_pipeline(generator_settings: Settings) -> ClipPipeline:
    """The tiny untrained pipeline, built into the data dir's models/ and loaded from there."""
    return load_configured_pipeline(generator_settings)
