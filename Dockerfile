# Image of the PAKN app (web under gunicorn; the same image runs the worker and migrations).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PAKN_INSTANCE_PATH=/var/lib/pakn
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# The search ranking function in C (indexer/native_rank.py); the compiler is removed again.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev libsqlite3-dev \
    && gcc -O2 -fPIC -shared -o indexer/pakn_rank.so indexer/pakn_rank.c -lm \
    && apt-get purge -y --auto-remove gcc libc6-dev libsqlite3-dev && rm -rf /var/lib/apt/lists/*
RUN pybabel compile -d webapp/translations \
    && useradd --system --home /var/lib/pakn pakn && mkdir -p /var/lib/pakn && chown pakn /var/lib/pakn
USER pakn
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-", "wsgi:app"]
