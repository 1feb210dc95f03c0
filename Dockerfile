# PEL model server: `pel serve` on port 8000, serving the models in /models.
#   docker build -t pel-serve .
#   docker run -p 8000:8000 -v "$PWD/models:/models:ro" -e PEL_API_TOKEN=change-me pel-serve
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PEL_CACHE_DIR=/var/cache/pel \
    NUMBA_CACHE_DIR=/var/cache/pel/numba

WORKDIR /src
COPY pyproject.toml README.md ./
COPY pel ./pel
# The distribution pel-lang (package and command `pel`) with its serve extra, built from this checkout.
RUN pip install ".[serve]" \
    && useradd --system --uid 10001 --home-dir /nonexistent --shell /usr/sbin/nologin pel \
    && mkdir -p /var/cache/pel/numba /models \
    && chown -R pel /var/cache/pel

# Example models, so the image answers out of the box; mount your own folder over /models.
COPY examples/*.pel /models/

USER pel
WORKDIR /models
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4).status != 200)"]

CMD ["pel", "serve", "--models", "/models", "--host", "0.0.0.0", "--port", "8000"]
