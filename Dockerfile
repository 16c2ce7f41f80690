# Parley gateway against an external PostgreSQL (DATABASE_URL); see docker-compose.yml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PARLEY_HOST=0.0.0.0 PARLEY_DATA_DIR=/data
RUN useradd --create-home --uid 10001 parley && mkdir /data && chown parley /data

WORKDIR /app
COPY pyproject.toml README.md ./
COPY gateway gateway
COPY audio audio
COPY feedback feedback
COPY scenarios scenarios
COPY sql sql
RUN pip install --no-cache-dir -e .

USER parley
EXPOSE 8000
# PARLEY_HOST=0.0.0.0: `parley serve` refuses to start without JWT_SECRET_KEY (32+ bytes).
CMD ["parley", "serve"]
