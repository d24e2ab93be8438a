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
# The audio kernels compiled ahead of time, for any CPU of the build machine's
# family: the workers then never load numba and LLVM (over 100 MB each).
# The C compiler the build needs is removed in the same layer.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && python -m recordings.audio.aot --cpu generic \
    && SHRUTIK_AUDIO_KERNELS=compiled python -m recordings.audio.warm \
    && apt-get purge -y --auto-remove gcc libc6-dev && rm -rf /var/lib/apt/lists/*
USER shrutik
EXPOSE 8000
# ASGI: pages, API and the live recording WebSocket from the same processes.
# The same command as docker-compose.yml's web service.
CMD ["gunicorn", "shrutik.asgi:application", "-k", "uvicorn_worker.UvicornWorker", \
     "-c", "python:shrutik.gunicorn_conf", "--bind", "0.0.0.0:8000", "--workers", "3", \
     "--timeout", "300", "--graceful-timeout", "60"]
