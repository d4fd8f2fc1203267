"""A Foxglove WebSocket client (the protocol, over the `websockets`
package): connects to codeact's live view, subscribes to every channel,
says "subscribed" on stdout (a second later, once the server has surely
taken the subscription), then collects messages until it has seen a
code action and the poses that followed it (on /pose, or the topic given
third: /beta/pose) or its time runs out, and
prints what it saw as one JSON object: the advertised channels, and per
topic the count of messages, their receive delays and the first payload's
printable text."""

import json
import struct
import sys
import time

from websockets.sync.client import connect

OP_MESSAGE_DATA = 1


def main(url, seconds, pose_topic="/pose"):
    out = {"channels": {}, "topics": {}, "subprotocol": None}
    with connect(url, subprotocols=["foxglove.sdk.v1"], open_timeout=10) as ws:
        out["subprotocol"] = ws.subprotocol
        by_id, subscriptions = {}, []
        deadline = time.time() + 5
        while not by_id and time.time() < deadline:
            message = json.loads(ws.recv(timeout=5))
            if message.get("op") == "advertise":
                for ch in message["channels"]:
                    by_id[ch["id"]] = ch
                    out["channels"][ch["topic"]] = {"encoding": ch["encoding"], "schema": ch["schemaName"]}
        for sid, cid in enumerate(by_id, start=1):
            subscriptions.append({"id": sid, "channelId": cid})
        topic_of = {s["id"]: by_id[s["channelId"]]["topic"] for s in subscriptions}
        ws.send(json.dumps({"op": "subscribe", "subscriptions": subscriptions}))
        # The protocol does not acknowledge a subscription; the server takes
        # it a moment later, and what is logged before that is not sent.
        time.sleep(1.0)
        print("subscribed", flush=True)
        deadline, poses_after_code = time.time() + seconds, 0
        while time.time() < deadline and poses_after_code < 5:
            try:
                frame = ws.recv(timeout=0.5)
            except TimeoutError:
                continue
            if not isinstance(frame, bytes) or frame[0] != OP_MESSAGE_DATA:
                continue
            sid, log_time = struct.unpack_from("<IQ", frame, 1)
            payload = frame[13:]
            topic = topic_of.get(sid, "?")
            seen = out["topics"].setdefault(topic, {"count": 0, "text": None, "log_times": []})
            seen["count"] += 1
            seen["log_times"].append(log_time)
            if seen["text"] is None:
                seen["text"] = payload.decode("utf-8", "replace")
            if topic == pose_topic and "/code" in out["topics"]:
                poses_after_code += 1
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), *sys.argv[3:4])
