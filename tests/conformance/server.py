"""The conformance server: what the official MCP conformance suite's server scenarios call.

The tools, resources and prompts are the ones the suite's checks name
(``@modelcontextprotocol/conformance`` 0.1.16, ``dist/index.js``: each server
scenario calls one by name and checks the shape of what comes back). Built on
the MCP Python SDK's ``MCPServer``, optionally with the project's
``AuditServerMiddleware`` installed; the same definitions are registered on a
FastMCP server (with or without the project's ``AuditMiddleware``) by
:func:`build_fastmcp`.

Run: ``python -m tests.conformance.server --transport http --port 8000 [--audit]``
or ``--transport stdio`` (the stdio proxy's child). With ``--audit`` the
producer is configured from ``MCP_AUDIT_*`` in the environment.
"""

# No `from __future__ import annotations`: the frameworks read the tools' annotations at
# registration, and `Ctx` below is a local that a string annotation could not resolve.
import argparse
import asyncio
import base64
import json
from typing import Any

import mcp.types as types
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.prompts.base import UserMessage

# A 1x1 PNG and a 44-byte WAV header: the smallest valid media the checks accept.
IMAGE = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="  # noqa: E501
AUDIO = "UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA="

# elicitation-sep1034-defaults checks a default for each primitive type.
DEFAULTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "User name", "default": "John Doe"},
        "age": {"type": "integer", "description": "User age", "default": 30},
        "score": {"type": "number", "description": "User score", "default": 95.5},
        "status": {
            "type": "string",
            "description": "User status",
            "enum": ["active", "inactive", "pending"],
            "default": "active",
        },
        "verified": {"type": "boolean", "description": "Verified", "default": True},
    },
}
# elicitation-sep1330-enums checks the five enum shapes of SEP-1330.
ENUMS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
        "titledSingle": {
            "type": "string",
            "oneOf": [
                {"const": "value1", "title": "First Option"},
                {"const": "value2", "title": "Second Option"},
                {"const": "value3", "title": "Third Option"},
            ],
        },
        "legacyEnum": {
            "type": "string",
            "enum": ["opt1", "opt2", "opt3"],
            "enumNames": ["Option One", "Option Two", "Option Three"],
        },
        "untitledMulti": {
            "type": "array",
            "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
        },
        "titledMulti": {
            "type": "array",
            "items": {
                "anyOf": [
                    {"const": "value1", "title": "First Choice"},
                    {"const": "value2", "title": "Second Choice"},
                    {"const": "value3", "title": "Third Choice"},
                ]
            },
        },
    },
}
PERSON_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"response": {"type": "string", "description": "User's response"}},
    "required": ["response"],
}


def register(server: Any, context_type: type, user: Any, related: bool = True) -> None:
    """Registers the suite's tools, resources and prompts on an MCPServer or a FastMCP.

    Both frameworks take the same decorators; ``context_type`` is the framework's
    ``Context``, the annotation by which each injects it into a tool, and ``user``
    its user-message type for prompts. ``related=False`` sends sampling and
    elicitation on the session's GET stream, as the reference everything-server does.
    """
    UserMessage: Any = user  # the prompts below read the same on either framework
    Ctx: Any = context_type  # read by the frameworks from the annotations below

    @server.tool()
    def test_simple_text() -> str:
        """Returns simple text."""
        return "This is a simple text response for testing."

    @server.tool()
    def test_image_content() -> list[types.ImageContent]:
        """Returns an image."""
        return [types.ImageContent(type="image", data=IMAGE, mime_type="image/png")]

    @server.tool()
    def test_audio_content() -> list[types.AudioContent]:
        """Returns audio."""
        return [types.AudioContent(type="audio", data=AUDIO, mime_type="audio/wav")]

    @server.tool()
    def test_embedded_resource() -> list[types.EmbeddedResource]:
        """Returns an embedded resource."""
        return [_embedded("test://embedded-resource", "This is an embedded resource content.")]

    @server.tool()
    def test_multiple_content_types() -> list[
        types.TextContent | types.ImageContent | types.EmbeddedResource
    ]:
        """Returns text, an image and a resource."""
        return [
            types.TextContent(type="text", text="Multiple content types test:"),
            types.ImageContent(type="image", data=IMAGE, mime_type="image/png"),
            _embedded(
                "test://mixed-content-resource",
                '{"test": "data", "value": 123}',
                "application/json",
            ),
        ]

    @server.tool()
    async def test_tool_with_logging(ctx: Ctx) -> str:
        """Logs three messages while it runs."""
        for message in ("Tool execution started", "Tool processing data"):
            await ctx.info(message)
            await asyncio.sleep(0.05)
        await ctx.info("Tool execution completed")
        return "Tool with logging executed successfully"

    @server.tool()
    async def test_tool_with_progress(ctx: Ctx) -> str:
        """Reports progress 0, 50, 100 of 100."""
        for step in (0, 50, 100):
            await ctx.report_progress(progress=step, total=100, message=f"step {step}")
            await asyncio.sleep(0.05)
        return "Progress reported"

    @server.tool()
    async def test_sampling(prompt: str, ctx: Ctx) -> str:
        """Asks the client's LLM."""
        message = types.SamplingMessage(
            role="user", content=types.TextContent(type="text", text=prompt)
        )
        # Related to the call, it goes on the call's POST stream, as the spec says it
        # SHOULD; sent unrelated (on the GET stream, as the reference server does) it races
        # the client's GET (docs/mcp-conformance.md).
        related_id = ctx.request_id if related else None
        result = await ctx.session.create_message(
            messages=[message], max_tokens=100, related_request_id=related_id
        )
        text = getattr(result.content, "text", None)
        return f"LLM response: {text}"

    async def elicit(ctx: Any, message: str, schema: dict[str, Any]) -> str:
        related_id = ctx.request_id if related else None
        result = await ctx.session.elicit_form(message, schema, related_request_id=related_id)
        return f"action={result.action}, content={json.dumps(result.content or {})}"

    @server.tool()
    async def test_elicitation(message: str, ctx: Ctx) -> str:
        """Asks the user."""
        return "User response: " + await elicit(ctx, message, PERSON_SCHEMA)

    @server.tool()
    async def test_elicitation_sep1034_defaults(ctx: Ctx) -> str:
        """Asks the user, with a default for every primitive type."""
        return "Elicitation result: " + await elicit(ctx, "Your details", DEFAULTS_SCHEMA)

    @server.tool()
    async def test_elicitation_sep1330_enums(ctx: Ctx) -> str:
        """Asks the user to pick from every enum shape."""
        return "Elicitation completed: " + await elicit(ctx, "Pick values", ENUMS_SCHEMA)

    @server.tool()
    def test_error_handling() -> str:
        """Always fails."""
        raise RuntimeError("This tool intentionally returns an error for testing")

    @server.tool()
    async def test_reconnection(ctx: Ctx) -> str:
        """Closes its SSE stream mid-call; the client resumes with Last-Event-ID."""
        await ctx.info("Before disconnect")
        await ctx.close_sse_stream()
        await asyncio.sleep(0.2)
        await ctx.info("After reconnect")
        return "Reconnection test completed"

    @server.resource("test://static-text", mime_type="text/plain")
    def static_text() -> str:
        """A static text resource."""
        return "This is the content of the static text resource."

    @server.resource("test://static-binary", mime_type="image/png")
    def static_binary() -> bytes:
        """A static binary resource."""
        return base64.b64decode(IMAGE)

    @server.resource("test://template/{id}/data", mime_type="application/json")
    def template(id: str) -> str:
        """A resource template."""
        return json.dumps({"id": id, "templateTest": True, "data": f"Data for ID: {id}"})

    @server.resource("test://watched-resource", mime_type="text/plain")
    def watched() -> str:
        """A resource to subscribe to."""
        return "Watched resource content"

    @server.prompt()
    def test_simple_prompt() -> list[Any]:
        """A prompt without arguments."""
        return [UserMessage("This is a simple prompt for testing.")]

    @server.prompt()
    def test_prompt_with_arguments(arg1: str, arg2: str) -> list[Any]:
        """A prompt with two arguments."""
        return [UserMessage(f"Prompt with arguments: arg1='{arg1}', arg2='{arg2}'")]

    @server.prompt()
    def test_prompt_with_embedded_resource(resourceUri: str) -> list[Any]:
        """A prompt with an embedded resource."""
        resource = _embedded(resourceUri, "Embedded resource content for testing.")
        return [UserMessage(resource), UserMessage("Please process the embedded resource above.")]

    @server.prompt()
    def test_prompt_with_image() -> list[Any]:
        """A prompt with an image."""
        image = types.ImageContent(type="image", data=IMAGE, mime_type="image/png")
        return [UserMessage(image), UserMessage("Please analyze the image above.")]


def _embedded(uri: str, text: str, mime_type: str = "text/plain") -> types.EmbeddedResource:
    contents = types.TextResourceContents(uri=uri, mime_type=mime_type, text=text)
    return types.EmbeddedResource(type="resource", resource=contents)


def build_mcpserver(audited: bool = False, related: bool = True) -> MCPServer:
    """The MCP SDK server, with the project's ``AuditServerMiddleware`` when ``audited``;
    ``related`` as :func:`register` takes it."""
    middleware: list[Any] = []
    if audited:
        from producers.mcpserver_audit import AuditServerMiddleware

        middleware.append(AuditServerMiddleware())
    server = MCPServer("mcp-audit-conformance", middleware=middleware)
    register(server, Context, UserMessage, related)

    @server.completion()
    async def complete(ref: Any, argument: Any, context: Any) -> types.Completion:
        return types.Completion(values=[], total=0, has_more=False)

    _subscriptions(server._lowlevel_server)  # the SDK has no public seam for these yet
    return server


def build_fastmcp(audited: bool = False) -> Any:
    """The same server on FastMCP, with the project's ``AuditMiddleware`` when ``audited``."""
    from fastmcp import Context as FastContext
    from fastmcp import FastMCP
    from fastmcp.prompts import Message

    server = FastMCP("mcp-audit-conformance")
    if audited:
        from producers.fastmcp_audit import AuditMiddleware

        server.add_middleware(AuditMiddleware())
    register(server, FastContext, Message)

    @server.completion
    async def complete(ref: Any, argument: Any, context: Any) -> types.Completion:
        return types.Completion(values=[], total=0, has_more=False)

    _subscriptions(server._mcp_server)  # FastMCP serves logging/setLevel itself
    return server


def _subscriptions(low: Any) -> None:
    """resources/subscribe and unsubscribe (and logging/setLevel where unserved) on the
    framework's low-level server."""

    subscriptions: set[str] = set()

    async def subscribe(ctx: Any, params: types.SubscribeRequestParams) -> types.EmptyResult:
        subscriptions.add(str(params.uri))
        return types.EmptyResult()

    async def unsubscribe(ctx: Any, params: types.UnsubscribeRequestParams) -> types.EmptyResult:
        subscriptions.discard(str(params.uri))
        return types.EmptyResult()

    async def set_level(ctx: Any, params: types.SetLevelRequestParams) -> types.EmptyResult:
        return types.EmptyResult()

    low.add_request_handler("resources/subscribe", types.SubscribeRequestParams, subscribe)
    low.add_request_handler("resources/unsubscribe", types.UnsubscribeRequestParams, unsubscribe)
    if low.get_request_handler("logging/setLevel") is None:
        low.add_request_handler("logging/setLevel", types.SetLevelRequestParams, set_level)


def http_app(server: Any) -> Any:
    """The streamable-HTTP app on /mcp, with an event store so SSE streams can be resumed."""
    from fastmcp import FastMCP
    from fastmcp.server.event_store import EventStore

    if isinstance(server, FastMCP):
        return server.http_app(
            path="/mcp", event_store=EventStore(), retry_interval=100, host_origin_protection=True
        )
    return server.streamable_http_app(event_store=EventStore(), retry_interval=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transport", choices=("http", "stdio"), default="http")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--audit", action="store_true", help="install AuditServerMiddleware")
    args = parser.parse_args()
    if args.audit:
        from producers.runtime import configure, shutdown

        configure()
    try:
        server = build_mcpserver(audited=args.audit)
        if args.transport == "stdio":
            server.run("stdio")
        else:
            import uvicorn

            uvicorn.run(http_app(server), host="127.0.0.1", port=args.port, log_level="warning")
    finally:
        if args.audit:
            shutdown()


if __name__ == "__main__":
    main()
