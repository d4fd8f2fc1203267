"""An rclpy peer speaking lab_msgs, an interface package the test generates
at run time (tests/ros_interfaces.rs), running for `seconds`:
- /lab/measure (lab_msgs/srv/Measure): `count` samples, sample i labelled
  "<probe>-i" with values [i + offset[0], i + offset[1]], points
  [(i, 2i, offset[2])] and code [1, 2, 3, i];
- /lab/sweep (lab_msgs/action/Sweep): one step per dwell (sleeping that
  long), feedback {index, at: the waypoint}, result {visited, last: a
  sample}; accepts every cancel request;
- /lab/samples (lab_msgs/msg/Sample): prints what arrives as "heard";
- /lab/status (lab_msgs/msg/Sample): published every 0.1 s.
It prints one JSON line per event, each with its time (`t`, monotonic)."""
import json
import threading
import sys
import time

import rclpy
from geometry_msgs.msg import Point
from lab_msgs.action import Sweep
from lab_msgs.msg import Sample
from lab_msgs.srv import Measure
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node

seconds = float(sys.argv[1])


_say_lock = threading.Lock()


def say(**event):
    event["t"] = time.monotonic()
    # One write per line, under a lock: callbacks on several executor threads
    # would otherwise interleave print()'s text and its newline.
    with _say_lock:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()


def sample(label, i, offset):
    return Sample(label=f"{label}-{i}", values=[i + offset[0], i + offset[1]],
                  points=[Point(x=float(i), y=2.0 * i, z=offset[2])], code=[1, 2, 3, i])


def on_measure(request, response):
    say(event="measure", probe=request.probe, count=request.count, offset=list(request.offset))
    response.samples = [sample(request.probe, i, request.offset) for i in range(request.count)]
    values = [v for s in response.samples for v in s.values]
    response.mean = sum(values) / len(values) if values else 0.0
    response.ok = True
    return response


def on_goal(request):
    say(event="received", tag=request.tag, steps=len(request.dwell),
        waypoints=[[p.x, p.y, p.z] for p in request.waypoints])
    return GoalResponse.ACCEPT


def on_cancel(_):
    return CancelResponse.ACCEPT


def execute(goal):
    request = goal.request
    say(event="accepted", tag=request.tag)
    for i, dwell in enumerate(request.dwell):
        if goal.is_cancel_requested:
            goal.canceled()
            say(event="canceled", tag=request.tag, at=i)
            return Sweep.Result(visited=i)
        at = request.waypoints[i] if i < len(request.waypoints) else Point()
        goal.publish_feedback(Sweep.Feedback(index=i, at=at))
        time.sleep(dwell)
    goal.succeed()
    say(event="done", tag=request.tag)
    return Sweep.Result(visited=len(request.dwell),
                        last=sample(request.tag, len(request.dwell), [0.0, 0.5, 0.0]))


def on_sample(m):
    say(event="heard", label=m.label, values=list(m.values), frame=m.header.frame_id,
        points=[[p.x, p.y, p.z] for p in m.points], code=[int(c) for c in m.code])


rclpy.init()
node = Node("lab_peer")
node.create_service(Measure, "/lab/measure", on_measure)
ActionServer(node, Sweep, "/lab/sweep", execute_callback=execute, goal_callback=on_goal,
             cancel_callback=on_cancel)
node.create_subscription(Sample, "/lab/samples", on_sample, 10)
status = node.create_publisher(Sample, "/lab/status", 10)
node.create_timer(0.1, lambda: status.publish(sample("status", 7, [0.25, 0.5, 0.75])))
executor = MultiThreadedExecutor()
executor.add_node(node)
end = time.time() + seconds
while time.time() < end:
    executor.spin_once(timeout_sec=0.05)
node.destroy_node()
rclpy.shutdown()
