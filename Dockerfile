FROM python:3.11-slim

# WeasyPrint renders statements with Pango; DejaVu gives it fonts with Danish letters.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 \
    libharfbuzz-subset0 fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md piccolo_conf.py ./
COPY core ./core
COPY api ./api
COPY contracts ./contracts
COPY outcomes ./outcomes
COPY ledger ./ledger
COPY effect ./effect
COPY voice ./voice
COPY opendata ./opendata
COPY reports ./reports
RUN pip install --no-cache-dir .

# No secret is baked in: the app refuses to start in production without VIRKER_SECRET_KEY.
# It runs as a user of its own, which may write only var/ (the journal's signing key).
RUN useradd --system --no-create-home --home-dir /app virker \
 && mkdir -p /app/var && chown virker /app/var
USER virker
ENV VIRKER_ENV=production VIRKER_HOST=0.0.0.0 VIRKER_PORT=8000
EXPOSE 8000
CMD ["sh", "-c", "virker migrate && virker serve --workers ${VIRKER_WORKERS:-2}"]
