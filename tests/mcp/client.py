"""An MCP client for `codeact mcp`, built on the official MCP Python SDK.

tests/mcp.rs runs one scenario per call and asserts on the JSON it prints:

    client.py SCENARIO stdio CODEACT [ARGS...]   # spawns `CODEACT mcp ARGS...`
    client.py SCENARIO http URL TOKEN|-          # connects to a running server

Scenarios: basics, progress, cancel, cancel_then_execute, stop, busy, ready, bench, fleet.
"""

import base64
import json
import sys
import time

import anyio
import httpx2
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client


def text_of(result):
    return "".join(c.text for c in result.content if c.type == "text")


async def execute(session, code, **kwargs):
    return await session.call_tool("execute", {"code": code}, **kwargs)


async def until_idle(session, seconds=30.0):
    """Waits until the server says no action runs."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        state = await session.call_tool("robot_state", {})
        if not state.structured_content["busy"]:
            return
        await anyio.sleep(0.05)
    raise RuntimeError("the robot stayed busy")


AT_REST = "import math\np = get_pose(); wait(1.0); q = get_pose()\nprint(round(math.hypot(p.x - q.x, p.y - q.y), 4))"


async def basics(session, init):
    out = {"protocol": init.protocol_version, "server": init.server_info.name,
           "instructions": init.instructions or ""}
    tools = await session.list_tools()
    out["tools"] = {t.name: {"schema": t.input_schema, "description": t.description,
                             "destructive": t.annotations.destructive_hint if t.annotations else None}
                    for t in tools.tools}
    await execute(session, "x = 41")
    kept = await execute(session, "x + 1")
    out["kept"] = {"text": text_of(kept), "is_error": kept.is_error,
                   "result": kept.structured_content["result"]}
    failed = await execute(session, "def f(n):\n    return 1 / n\nf(0)")
    out["failed"] = {"text": text_of(failed), "is_error": failed.is_error,
                     "error": failed.structured_content["error"]}
    shown = await execute(session, "show(get_camera_image(32, 24), 'look')")
    images = [c for c in shown.content if c.type == "image"]
    out["shown"] = [{"mime": i.mime_type, "head": base64.b64decode(i.data)[:8].hex()} for i in images]
    picture = await session.call_tool("picture", {"radius": 3.0})
    image = [c for c in picture.content if c.type == "image"][0]
    out["picture"] = {"mime": image.mime_type, "head": base64.b64decode(image.data)[:8].hex()}
    state = await session.call_tool("robot_state", {})
    out["state"] = text_of(state)
    resources = await session.list_resources()
    out["resources"] = sorted(str(r.uri) for r in resources.resources)
    api = await session.read_resource("codeact://api")
    out["api"] = api.contents[0].text
    state = await session.read_resource("codeact://state")
    out["state_resource"] = json.loads(state.contents[0].text)
    png = await session.read_resource("codeact://map.png")
    out["map_resource"] = {"mime": png.contents[0].mime_type,
                           "head": base64.b64decode(png.contents[0].blob)[:8].hex()}
    long = await execute(session, "for i in range(100000):\n    print(i)")
    out["long"] = {"chars": len(text_of(long)), "tail": text_of(long)[-200:]}
    reset = await session.call_tool("reset", {})
    after = await execute(session, "x")
    out["reset"] = {"text": text_of(reset), "after": after.structured_content["error"]["type"]}
    return out


async def progress(session, init):
    seen = []

    async def on_progress(progress, total, message):
        seen.append(message)

    code = "import time\nfor i in range(3):\n    print('step', i, flush=True)\n    time.sleep(0.3)\n'done'"
    result = await execute(session, code, progress_callback=on_progress)
    return {"progress": seen, "result": result.structured_content["result"]}


async def cancel(session, init):
    started = anyio.Event()

    async def on_progress(progress, total, message):
        if "moving" in (message or ""):
            started.set()

    t0 = time.monotonic()
    with anyio.move_on_after(60):
        async with anyio.create_task_group() as tg:
            async def run():
                await execute(session, "print('moving', flush=True)\ndrive(0.2, 0.0, 30.0)",
                              progress_callback=on_progress)
            tg.start_soon(run)
            await started.wait()
            await anyio.sleep(1.0)
            tg.cancel_scope.cancel()  # abandons the request: the SDK sends notifications/cancelled
    cancelled_after = time.monotonic() - t0
    await until_idle(session)
    idle_after = time.monotonic() - t0
    rest = await execute(session, AT_REST)
    return {"cancelled_after": cancelled_after, "idle_after": idle_after,
            "moved_after": text_of(rest).split("\n")[0]}


async def cancel_then_execute(session, init):
    """Cancels an action that takes a while to stop, then executes at once."""
    started = anyio.Event()

    async def on_progress(progress, total, message):
        started.set()

    slow_to_stop = ("import time\nprint('go', flush=True)\n"
                    "try:\n    time.sleep(30)\nfinally:\n    time.sleep(0.5)")
    async with anyio.create_task_group() as tg:
        async def run():
            await execute(session, slow_to_stop, progress_callback=on_progress)
        tg.start_soon(run)
        await started.wait()
        tg.cancel_scope.cancel()
    t0 = time.monotonic()
    after = await execute(session, "1 + 1")
    return {"is_error": after.is_error, "text": text_of(after),
            "result": (after.structured_content or {}).get("result"),
            "waited": time.monotonic() - t0}


async def stop(session, init):
    started = anyio.Event()
    out = {}

    async def on_progress(progress, total, message):
        if "moving" in (message or ""):
            started.set()

    async with anyio.create_task_group() as tg:
        async def run():
            t0 = time.monotonic()
            result = await execute(session, "print('moving', flush=True)\ndrive(0.2, 0.0, 30.0)",
                                   progress_callback=on_progress)
            out["execute"] = {"status": result.structured_content["status"],
                              "is_error": result.is_error, "seconds": time.monotonic() - t0}
        tg.start_soon(run)
        await started.wait()
        await anyio.sleep(0.5)
        stopped = await session.call_tool("stop_robot", {})
        out["stop"] = text_of(stopped)
    rest = await execute(session, AT_REST)
    out["moved_after"] = text_of(rest).split("\n")[0]
    return out


async def busy(session, init):
    out = {}
    started = anyio.Event()

    async def on_progress(progress, total, message):
        started.set()

    async with anyio.create_task_group() as tg:
        async def run():
            await execute(session, "import time\nprint('go', flush=True)\ntime.sleep(2)", progress_callback=on_progress)
        tg.start_soon(run)
        await started.wait()
        second = await execute(session, "1 + 1")
        out["second"] = {"is_error": second.is_error, "text": text_of(second)}
    return out


async def ready(session, init):
    """Nothing more than the handshake and tools/list (timed by the caller)."""
    return {}


async def bench(session, init):
    """Round trips of a trivial execute, seen by this client (milliseconds)."""
    for _ in range(20):
        await execute(session, "x = 1 + 1")
    times = []
    for _ in range(int(sys.argv[-1]) if sys.argv[-1].isdigit() else 200):
        t0 = time.perf_counter()
        await execute(session, "x = 1 + 1")
        times.append((time.perf_counter() - t0) * 1e3)
    return {"round_trips_ms": times}


async def fleet(session, init):
    """A world of two robots: what the tools say of them, both driven at once
    from one execute, both stopped by stop_robot during a drive."""
    tools = await session.list_tools()
    out = {"instructions": init.instructions or "",
           "execute": next(t.description for t in tools.tools if t.name == "execute")}
    moved = await execute(session, "together(alpha.start('move_to', 1.0, 2.0), beta.start('move_to', 2.0, 19.0))\n"
                                    "print(sorted(robots), round(beta.get_pose().x, 1))")
    out["moved"] = {"text": text_of(moved), "is_error": moved.is_error}
    state = await session.call_tool("robot_state", {})
    out["state"] = text_of(state)
    async with anyio.create_task_group() as tg:
        async def drive():
            out["drive"] = text_of(await execute(
                session, "together(alpha.start('drive', 0.5, 0.0, 30.0), beta.start('drive', 0.5, 0.0, 30.0))"))
        tg.start_soon(drive)
        await anyio.sleep(1.0)
        out["stop"] = text_of(await session.call_tool("stop_robot", {}))
    rest = await execute(session, "import math\n"
                                  "a, b = alpha.get_pose(), beta.get_pose(); wait(1.0)\n"
                                  "print(round(math.hypot(a.x - alpha.get_pose().x, a.y - alpha.get_pose().y), 4),"
                                  " round(math.hypot(b.x - beta.get_pose().x, b.y - beta.get_pose().y), 4))")
    out["rest"] = text_of(rest)
    return out


SCENARIOS = {f.__name__: f for f in [basics, progress, cancel, cancel_then_execute, stop, busy,
                                     ready, bench, fleet]}


async def with_session(streams, scenario):
    read, write = streams[0], streams[1]
    async with ClientSession(read, write) as session:
        t0 = time.perf_counter()
        init = await session.initialize()
        await session.list_tools()
        ready_ms = (time.perf_counter() - t0) * 1e3
        out = await SCENARIOS[scenario](session, init)
        out["ready_ms"] = ready_ms
        return out


async def main():
    scenario, transport = sys.argv[1], sys.argv[2]
    if transport == "stdio":
        params = StdioServerParameters(command=sys.argv[3], args=["mcp", *sys.argv[4:]])
        t0 = time.perf_counter()
        async with stdio_client(params) as streams:
            out = await with_session(streams, scenario)
            out["spawn_to_ready_ms"] = (time.perf_counter() - t0) * 1e3
    else:
        url, token = sys.argv[3], sys.argv[4]
        headers = {} if token == "-" else {"Authorization": f"Bearer {token}"}
        async with httpx2.AsyncClient(headers=headers, timeout=120) as http:
            async with streamable_http_client(url, http_client=http) as streams:
                out = await with_session(streams, scenario)
    print(json.dumps(out))


anyio.run(main)
