# The official PostGIS image with pg_partman, which keeps the readings'
# partitions (migration monitoring 0005 creates the extension; the image's
# POSTGRES_USER is a superuser, as creating it requires).
FROM postgis/postgis:15-3.4
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-15-partman \
    && rm -rf /var/lib/apt/lists/*
