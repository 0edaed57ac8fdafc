# One image for web (daphne), api (gunicorn), the Celery worker, Celery beat
# and the MQTT bridge; the command picks the role (see docker-compose.yml).
# The front-end packages (package-lock.json) in a stage of their own: the
# image keeps only the built files the pages load (scripts/lib.sh copies the
# same list for `make run` and `make test`), not Node.js or node_modules.
FROM node:20-bookworm-slim AS vendor
WORKDIR /build
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error \
    && mkdir -p vendor \
    && cd node_modules \
    && cp --parents echarts/dist/echarts.min.js echarts/LICENSE echarts/NOTICE \
         hls.js/dist/hls.min.js hls.js/dist/hls.min.js.map hls.js/LICENSE ../vendor/

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STATIC_ROOT=/app/staticfiles

# GeoDjango loads GDAL, GEOS and PROJ at run time (libgdal32 brings the other
# two); gettext compiles the translations below.
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgdal32 gettext \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .
COPY --from=vendor /build/vendor static/vendor/
# Settings need a secret key to import with DEBUG off; this one never leaves
# the build.
RUN mkdir -p locale var \
    && DEBUG=0 SECRET_KEY=build-only-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz \
       python manage.py collectstatic --noinput -v 0 \
    && if find . -name '*.po' -not -path './var/*' | grep -q .; then \
         DEBUG=0 SECRET_KEY=build-only-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz \
         python manage.py compilemessages -v 0 -i var; \
       fi

RUN useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin citysafety \
    && chown citysafety /app/var
USER citysafety

EXPOSE 8000 8001
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "--proxy-headers", "citysafety.asgi:application"]
