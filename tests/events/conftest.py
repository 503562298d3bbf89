import numpy as np
import pytest
from events_testdata import random_events


@pytest.fixture
def events() -> np.ndarray:
    return random_events(3000)
