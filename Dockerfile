# syntax=docker/dockerfile:1
# One image for all four SocialOps services; pick one with the command, e.g.
#   docker run socialops python -m services.budget
# docker-compose.yml sets the command, port and health check of each service.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 socialops \
    && useradd --system --uid 10001 --gid socialops --create-home --shell /usr/sbin/nologin socialops

WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
COPY deploy ./deploy
# Code stays root-owned and read-only for the service user; build leftovers are dropped.
RUN pip install --no-cache-dir . \
    && rm -rf build ./*.egg-info

USER 10001:10001

EXPOSE 8101 8102 8103 8104

# No HEALTHCHECK here: the port differs per service, so compose defines one for each.
CMD ["python", "-m", "services.calendar"]
