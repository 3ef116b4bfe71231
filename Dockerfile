FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY core core
COPY store store
COPY processors processors
COPY gateways gateways
COPY mediaplex mediaplex
RUN pip install --no-cache-dir .
ENV MALLOC_ARENA_MAX=2
ENTRYPOINT []
