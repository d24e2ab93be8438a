import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from consensus.engine import evaluate
from consensus.services import engine_config


class Command(BaseCommand):
    help = (
        "Replay CrowdSpeech-format transcripts through the production consensus engine "
        "(same normalisation, alignment, weights and stopping rule, with this deployment's "
        "thresholds) and print one JSON object of quality figures."
    )

    def add_arguments(self, parser):
        parser.add_argument("--crowd", help="<split>-crowd.tsv")
        parser.add_argument("--gt", help="<split>-gt.txt")
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--max-transcripts", type=int)
        parser.add_argument("--limit", type=int, help="only the first N clips")
        parser.add_argument(
            "--simulate-bangla",
            action="store_true",
            help="simulated Bangla transcribers instead of files",
        )
        # The review share under the capacity rule, with this deployment's
        # reviewers (REVIEWS_PER_DAY), as the platform applies it.
        evaluate.add_queue_arguments(parser, reviews_per_day=settings.REVIEWS_PER_DAY)

    def handle(self, *args, crowd, gt, seed, max_transcripts, limit, simulate_bangla, **opts):
        config = engine_config()
        queue = evaluate.review_queue(opts["reviews_per_day"], opts["clips_per_day"])
        if simulate_bangla:
            from consensus.engine.simulate import simulate_bangla as simulate

            report = simulate(
                seed=seed, max_transcripts=max_transcripts, config=config, queue=queue
            )
        else:
            if not crowd or not gt:
                raise CommandError("--crowd and --gt are required unless --simulate-bangla")
            for path in (crowd, gt):
                if not Path(path).is_file():
                    raise CommandError(f"No such file: {path}")
            report = evaluate.evaluate_crowd(
                crowd,
                gt,
                seed=seed,
                max_transcripts=max_transcripts,
                config=config,
                limit=limit,
                queue=queue,
            )
        self.stdout.write(json.dumps(report, ensure_ascii=False))
