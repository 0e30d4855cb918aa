# The image the production stack runs the processors and the sink from.
FROM python:3.11-slim
RUN useradd --create-home --uid 10001 mcpaudit
WORKDIR /app
COPY pyproject.toml setup.py MANIFEST.in README.md ./
COPY schemas ./schemas
COPY producers ./producers
COPY processors ./processors
COPY sinks ./sinks
COPY readside ./readside
COPY mcp_audit ./mcp_audit
RUN pip install --no-cache-dir ".[all]"
USER mcpaudit
ENTRYPOINT ["mcp-audit"]
