# Troupe's container image, built from source: `docker build -t troupe .`
#
# From source rather than from the binary (`make binary`): the binary carries its own Python and a
# redis-server (~110 MB), which a container does not need (Redis is its own service in compose.yaml),
# and it ties the image to the glibc it was built on. The source image reuses the slim Python base
# layer, installs the pinned wheels of requirements.txt once (a layer rebuilt only when they change),
# and runs the same interpreter the tests run. No compiler: every pinned package ships a wheel.
#
# One image for every node: ROLE=web (HTTP on PORT) or ROLE=executor (no HTTP; /metrics and /readyz on
# METRICS_PORT). The health check asks /readyz of whichever it is. Runs as an unprivileged user.

FROM node:22-bookworm-slim AS browser-libs
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --loglevel=error

FROM python:3.11-slim-bookworm AS wheels
RUN python -m venv /opt/troupe-venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/troupe-venv/bin/pip install --no-cache-dir --disable-pip-version-check -r /tmp/requirements.txt

FROM python:3.11-slim-bookworm
RUN useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin troupe \
    && mkdir -p /data && chown troupe:troupe /data
COPY --from=wheels /opt/troupe-venv /opt/troupe-venv
WORKDIR /app
COPY settings.py run.py ./
COPY app ./app
COPY actors ./actors
COPY web ./web
COPY templates ./templates
COPY static ./static
COPY --from=browser-libs /src/node_modules ./node_modules
ENV PATH=/opt/troupe-venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    PORT=8080 \
    DATA_DIR=/data
USER troupe
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('METRICS_PORT', '0') if os.environ.get('ROLE') == 'executor' else os.environ.get('PORT', '8080'); sys.exit(urllib.request.urlopen(f'http://127.0.0.1:{port}/readyz', timeout=2).status != 200)"]
ENTRYPOINT ["python", "/app/run.py"]
CMD ["serve"]
