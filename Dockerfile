# The app image: bot, action server, console, worker (Python 3.11). The Rasa server runs the
# official rasa/rasa:3.6.21 image (see docker-compose.yml). First version: not yet built in CI.
FROM python:3.11-slim
WORKDIR /app
COPY requirements/app.lock requirements/app.lock
RUN pip install --no-cache-dir --require-hashes -r requirements/app.lock
COPY . .
ENV PYTHONPATH=/app PYTHONUNBUFFERED=1
USER nobody
