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
# The services' volumes mount here; a new named volume takes this ownership (0700).
RUN install -d -m 0700 -o mcpaudit -g mcpaudit /var/lib/mcp-audit /var/lib/mcp-audit/processors \
    /var/lib/mcp-audit/keys /var/lib/mcp-audit/dashboard
USER mcpaudit
ENTRYPOINT ["mcp-audit"]
