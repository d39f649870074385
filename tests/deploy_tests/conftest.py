from __future__ import annotations

import pytest

from tests.deploy_tests.manifests import OVERLAYS


@pytest.fixture(params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> str:
    """Each overlay of deploy/k8s in turn."""
    return request.param
