"""Shared set-up of the nmt tests."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread: small models run faster so, and results repeat exactly."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)
