# Image of the PAKN app (web under gunicorn; the same image runs the worker and migrations).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PAKN_INSTANCE_PATH=/var/lib/pakn
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN pybabel compile -d webapp/translations \
    && useradd --system --home /var/lib/pakn pakn && mkdir -p /var/lib/pakn && chown pakn /var/lib/pakn
USER pakn
EXPOSE 8000
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-", "wsgi:app"]
