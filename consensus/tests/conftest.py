import pytest


@pytest.fixture
def consensus_config(settings):
    """Set ``CONSENSUS_CONFIG`` for one test: ``consensus_config(audit_rate=0.0)``.
    The engine config is cached per process, so it is rebuilt on each change
    and again after the test."""
    from consensus import services

    def configure(**overrides) -> None:
        settings.CONSENSUS_CONFIG = overrides
        services.engine_config.cache_clear()

    yield configure
    services.engine_config.cache_clear()


@pytest.fixture
def no_audit(consensus_config):
    """No random audit draws: a validated chunk stays validated."""
    consensus_config(audit_rate=0.0)
