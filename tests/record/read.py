"""Reads an MCAP recording with the official `mcap` reader and its protobuf
and ROS 2 decoders, and prints what the tests check as one JSON object: channels with
their schemas and message counts, whether log times are in order, and the
decoded messages of the small channels."""

import json
import math
import sys

from mcap.reader import make_reader
from mcap_protobuf.decoder import DecoderFactory
from mcap_ros2.decoder import DecoderFactory as Ros2DecoderFactory


def finite(x):
    return x if math.isfinite(x) else None


def pose(m):
    q = m.pose.orientation
    return {"x": m.pose.position.x, "y": m.pose.position.y,
            "theta": 2 * math.atan2(q.z, q.w), "frame": m.frame_id}


def main(path):
    out = {"channels": {}, "in_order": True, "messages": 0}
    last_time = {}
    decoded = {}
    with open(path, "rb") as f:
        reader = make_reader(f)
        summary = reader.get_summary()
        out["library"] = reader.get_header().library
        out["metadata"] = {m.name: dict(m.metadata) for m in reader.iter_metadata()}
        for cid, ch in summary.channels.items():
            schema = summary.schemas[ch.schema_id]
            out["channels"][ch.topic] = {
                "schema": schema.name, "schema_encoding": schema.encoding,
                "encoding": ch.message_encoding,
                "count": summary.statistics.channel_message_counts.get(cid, 0),
            }
        for schema, channel, message in reader.iter_messages(log_time_order=False):
            out["messages"] += 1
            if message.log_time < last_time.get(channel.topic, 0):
                out["in_order"] = False
            last_time[channel.topic] = message.log_time
            value = json.loads(message.data) if channel.message_encoding == "json" else None
            decoded.setdefault(channel.topic, []).append((schema, channel, message, value))
    with open(path, "rb") as f:
        # Foxglove's schemas (protobuf) and ROS 2 messages (CDR) alike.
        reader = make_reader(f, decoder_factories=[DecoderFactory(), Ros2DecoderFactory()])
        poses, scans, logs, images, grid, frames = [], [], {}, {}, None, []
        cmd = [v for (_, _, _, v) in decoded.get("/cmd_vel", []) if v is not None]
        binary = [t for t, c in out["channels"].items() if c["encoding"] in ("protobuf", "cdr")]
        for schema, channel, message, m in reader.iter_decoded_messages(topics=binary, log_time_order=False):
            t, kind = message.log_time, schema.name
            if kind == "foxglove.PoseInFrame":
                poses.append(dict(pose(m), t=t, stamp=m.timestamp.seconds * 10**9 + m.timestamp.nanos,
                                  topic=channel.topic))
            elif kind == "geometry_msgs/msg/PoseStamped":
                q = m.pose.orientation
                poses.append({"x": m.pose.position.x, "y": m.pose.position.y,
                              "theta": 2 * math.atan2(q.z, q.w), "frame": m.header.frame_id, "t": t,
                              "stamp": m.header.stamp.sec * 10**9 + m.header.stamp.nanosec,
                              "topic": channel.topic})
            elif kind == "foxglove.LaserScan":
                scans.append({"t": t, "frame": m.frame_id, "start_angle": m.start_angle,
                              "end_angle": m.end_angle, "ranges": [finite(r) for r in m.ranges]})
            elif kind == "sensor_msgs/msg/LaserScan":
                scans.append({"t": t, "frame": m.header.frame_id, "start_angle": m.angle_min,
                              "end_angle": m.angle_max, "ranges": [finite(r) for r in m.ranges]})
            elif kind == "foxglove.Log":
                logs.setdefault(channel.topic, []).append(
                    {"t": t, "level": m.level, "name": m.name, "line": m.line, "message": m.message})
            elif kind == "codeact_interfaces/msg/ActionOutput":
                logs.setdefault(channel.topic, []).append(
                    {"t": t, "level": 4 if m.kind == "error" else 2, "name": m.kind, "line": m.action,
                     "message": m.text})
            elif kind in ("foxglove.CompressedImage", "sensor_msgs/msg/CompressedImage"):
                images.setdefault(channel.topic, []).append(
                    {"t": t, "format": m.format, "bytes": len(m.data), "png": bytes(m.data[:8]) == b"\x89PNG\r\n\x1a\n",
                     "frame": m.frame_id if kind.startswith("foxglove") else m.header.frame_id})
            elif kind == "foxglove.Grid":
                grid = {"columns": m.column_count, "cells": len(m.data), "occupied": sum(1 for b in m.data if b),
                        "cell": m.cell_size.x, "frame": m.frame_id}
            elif kind == "nav_msgs/msg/OccupancyGrid":
                grid = {"columns": m.info.width, "cells": len(m.data), "occupied": sum(1 for b in m.data if b),
                        "cell": m.info.resolution, "frame": m.header.frame_id}
            elif kind == "geometry_msgs/msg/Twist":
                cmd.append({"linear": m.linear.x, "angular": m.angular.z})
            elif kind == "foxglove.FrameTransforms":
                frames.extend([tf.parent_frame_id, tf.child_frame_id] for tf in m.transforms)
            elif kind == "tf2_msgs/msg/TFMessage":
                frames.extend([tf.header.frame_id, tf.child_frame_id] for tf in m.transforms)
    out["frames"] = sorted({tuple(f) for f in frames})
    out.update(poses=poses, scans=scans[-1:], scan_count=len(scans), logs=logs, images=images, grid=grid, cmd_vel=cmd)
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
