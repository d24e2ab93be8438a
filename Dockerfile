# Pinned to a patch release (and Debian release) so that a rebuild gets what was tested.
FROM python:3.11.14-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends libsndfile1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 shrutik
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
# collectstatic needs settings to import; a throwaway key is enough at build time.
RUN SECRET_KEY=build-only DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    python manage.py collectstatic --noinput -v0
# numba caches the audio kernels it compiles next to their source, which the
# app user cannot write: without this every new container's workers would
# compile them during their first recording (seconds, and ~40 MB more peak
# memory). Compiled here, into a cache the workers load them from.
ENV NUMBA_CACHE_DIR=/app/.numba-cache
RUN python -m recordings.audio.warm && chown -R shrutik /app/.numba-cache
USER shrutik
EXPOSE 8000
# ASGI: pages, API and the live recording WebSocket from the same processes.
# The same command as docker-compose.yml's web service.
CMD ["gunicorn", "shrutik.asgi:application", "-k", "uvicorn_worker.UvicornWorker", \
     "-c", "python:shrutik.gunicorn_conf", "--bind", "0.0.0.0:8000", "--workers", "3", \
     "--timeout", "300", "--graceful-timeout", "60"]
