from django.apps import AppConfig


class ConsensusConfig(AppConfig):
    name = "consensus"
    verbose_name = "Consensus and review"

    def ready(self) -> None:
        from django.db import transaction

        from consensus.engine import normalize
        from transcriptions import hooks

        hooks.register_normalizer(lambda text, language: normalize(text))

        def enqueue(chunk_id: str) -> None:
            from consensus.tasks import consensus_decide

            # Called from on_commit already; a nested on_commit keeps it safe
            # when the hook fires inside a transaction (skip/report paths).
            transaction.on_commit(lambda: consensus_decide.delay(chunk_id))

        hooks.on_chunk_transcribed(enqueue)
