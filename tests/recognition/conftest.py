import pytest

from edgevision.recognition.synth import SynthConfig, synthesize


@pytest.fixture(scope="session")
def tiny_set(tmp_path_factory):
    """20 recordings (2 subjects) at 64x64, 100 fps, made with the project's DVS emulator."""
    out = tmp_path_factory.mktemp("synth") / "set"
    synthesize(out, 20, seed=3, cfg=SynthConfig(size=64, fps=100), progress=False)
    return out
