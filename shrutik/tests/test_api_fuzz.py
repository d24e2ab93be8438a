"""Schemathesis against the API's own OpenAPI schema, as each role, on a populated platform.

Every operation is fuzzed with valid (positive) and invalid (negative) inputs by
a contributor, a reviewer and a researcher, through the ASGI application that
production serves (``shrutik.asgi``, as under uvicorn) on the PostgreSQL test
database. Path parameters are drawn half the time from real objects (own and
other people's), so object endpoints answer with real rows and not only 404s.
Every answer must be a non-5xx whose status code, content type and body are
the ones the schema documents.

Bounded for CI: ``MAX_EXAMPLES`` per operation and role (derandomized, so a run
is reproducible). The figures are printed at the end of the session.
"""

from __future__ import annotations

import functools
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from recordings.tests import audio_files
from shrutik.asgi import application
from shrutik.tests.figures import report_figures
from shrutik.tests.seeded import World, bearer, seed_world

pytestmark = pytest.mark.django_db

# 24 operations x 3 roles x 20 examples ~ 1300 requests: about a minute on a loaded 2-core machine.
MAX_EXAMPLES = 20
ROLES = ("owner", "reviewer", "researcher")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

SCHEMA = schemathesis.openapi.from_dict(SchemaGenerator().get_schema(request=None, public=True))
SCHEMA.app = application
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]

# status codes per operation, over the whole run: printed at the end of the session
_FIGURES: dict[str, Counter] = defaultdict(Counter)
_SECONDS: Counter = Counter()


def _real_ids(world: World, path: str) -> dict[str, list[str]]:
    """Ids of seeded objects for each path parameter of ``path``."""
    chunks = [str(c.id) for c in (*world.chunks, *world.other_chunks)]
    if path.startswith("/api/recordings/{id}"):
        return {"id": [str(world.recording.id), str(world.other_recording.id)]}
    if path.startswith("/api/exports/{id}"):
        return {"id": [str(world.export.id), str(world.other_export.id)]}
    if path.startswith("/api/chunks/{id}"):
        return {"id": chunks}
    if path.startswith("/api/tasks/{chunk_id}"):
        return {"chunk_id": chunks}
    return {}


def _strategy(operation, world: World):
    """Generated cases, valid and invalid, half of them on real objects."""
    strategies = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        strategies.append(operation.as_strategy(generation_mode=mode))
        for name, ids in _real_ids(world, operation.path).items():
            strategies += [
                operation.as_strategy(generation_mode=mode, path_parameters={name: value})
                for value in ids
            ]
    return st.one_of(strategies)


# Bodies that get past validation, so the success paths are checked too.
_VALID_BODIES = {
    "POST /api/tasks/{chunk_id}/verify/": lambda world: {"matches": True},
    "POST /api/transcriptions/": lambda world: {
        "chunk": str(world.lease.chunk_id),
        "text": "আমি দুধ দিয়ে চা খাই",
    },
    "POST /api/recordings/": lambda world: {
        "script": world.recording.script_id,
        "audio": _reading(),
    },
    "POST /api/exports/": lambda world: {"formats": ["nemo"], "filters": {"languages": ["bn"]}},
}


def _explicit_cases(operation, world: World) -> list:
    """Cases every run sends first: each real object, the seeded language, valid bodies."""
    media = next(iter(operation.body), None)
    body = _VALID_BODIES.get(operation.label)
    extra = {}
    if body is not None:
        extra = {"body": body(world), "media_type": media.media_type if media else None}
    query = {"language": "bn"} if any(p.name == "language" for p in operation.query) else None
    pinned = [
        {name: value} for name, ids in _real_ids(world, operation.path).items() for value in ids
    ]
    if pinned:
        return [operation.Case(path_parameters=p, query=query, **extra) for p in pinned]
    if query or extra:
        return [operation.Case(query=query, **extra)]
    return []


@functools.cache
def _reading() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        path = audio_files.speechlike(Path(tmp) / "reading.ogg", seconds=3.0)
        return path.read_bytes()


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Serve requests on the test's own database connection, as Django's test client does.

    The ASGI handler runs each request's synchronous code in a thread of its
    own, which would open a connection that cannot see the rows seeded in the
    test's transaction; and a server closes connections after each request.
    So each request's thread is handed the test's connection when the request
    starts (requests run one at a time), and it is not closed.
    """
    connection = connections["default"]

    def use_the_test_connection(**kwargs) -> None:
        connections["default"] = connection

    connection.inc_thread_sharing()
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    request_started.connect(use_the_test_connection)
    yield
    request_started.disconnect(use_the_test_connection)
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)
    connection.dec_thread_sharing()


@pytest.fixture(scope="module", autouse=True)
def _report(request):
    yield
    lines = [
        f"API fuzzing (schemathesis {schemathesis.__version__}, "
        f"{MAX_EXAMPLES} examples per operation and role, roles: {', '.join(ROLES)})",
        f"{'operation':<42} {'requests':>8} {'seconds':>8}  status codes",
    ]
    for label in sorted(_FIGURES):
        codes = _FIGURES[label]
        spread = " ".join(f"{code}:{n}" for code, n in sorted(codes.items()))
        lines.append(f"{label:<42} {sum(codes.values()):>8} {_SECONDS[label]:>8.1f}  {spread}")
    total = sum(sum(c.values()) for c in _FIGURES.values())
    fives = sum(n for c in _FIGURES.values() for code, n in c.items() if code >= 500)
    lines.append(f"total: {total} requests, {fives} server errors, {sum(_SECONDS.values()):.1f} s")
    report_figures(request, "api-fuzz", lines)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_api_conforms_to_its_schema_and_never_fails(operation, role):
    world = seed_world()
    headers = bearer(world.user(role))
    started = time.monotonic()

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_strategy(operation, world))
    def run(case):
        response = case.call(headers=headers)
        _FIGURES[operation.label][response.status_code] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)

    for case in _explicit_cases(operation, world):
        run = example(case=case)(run)

    try:
        run()
    finally:
        _SECONDS[operation.label] += time.monotonic() - started
