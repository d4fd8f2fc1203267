"""An rclpy action server of example_interfaces/action/Fibonacci on
/fibonacci, for the ros_action tests, running for `seconds`:
- order >= 0: one feedback per number, STEP seconds apart, then the sequence;
- order == -1: aborts, reporting [-1];
- order < -1: rejects the goal;
- it accepts every cancel request and ends the goal as canceled;
- /fibonacci_server/ping (std_srvs/srv/Trigger) answers "pong";
- /fibonacci_server/light (std_srvs/srv/SetBool) answers "light on"/"light off";
- /fibonacci_server/get_state (lifecycle_msgs/srv/GetState, a type codeact's
  node is not built with) answers state 3, "active";
- what arrives on /screen_text (std_msgs/msg/String) is printed as "heard".
It prints one JSON line per event (accepted, rejected, canceled, done),
each with its time (`t`, monotonic seconds).
Settings from the environment, for the goal ledger's tests:
- FIB_ACTION: the action's name (default /fibonacci);
- FIB_ACCEPT_DELAY: seconds the server takes to accept a goal (default 0);
- FIB_TRACE=1: also prints "received" when a goal request arrives,
  "executing" when a goal starts, "cancel_requested" when a cancel comes,
  and "light" and "ping" when those services are called."""
import json
import threading
import os
import sys
import time

import rclpy
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.executors import MultiThreadedExecutor
from rclpy.node import Node
from example_interfaces.action import Fibonacci
from lifecycle_msgs.msg import State
from lifecycle_msgs.srv import GetState
from std_msgs.msg import String
from std_srvs.srv import SetBool, Trigger

STEP = 0.05
seconds = float(sys.argv[1])
ACTION = os.environ.get("FIB_ACTION", "/fibonacci")
ACCEPT_DELAY = float(os.environ.get("FIB_ACCEPT_DELAY", "0"))
TRACE = os.environ.get("FIB_TRACE") == "1"


_say_lock = threading.Lock()


def say(**event):
    event["t"] = time.monotonic()
    # One write per line, under a lock: callbacks on several executor threads
    # would otherwise interleave print()'s text and its newline.
    with _say_lock:
        sys.stdout.write(json.dumps(event) + "\n")
        sys.stdout.flush()


def on_cancel(_):
    if TRACE:
        say(event="cancel_requested")
    return CancelResponse.ACCEPT


def on_goal(request):
    if TRACE:
        say(event="received", order=request.order)
    time.sleep(ACCEPT_DELAY)
    if request.order < -1:
        say(event="rejected", order=request.order)
        return GoalResponse.REJECT
    say(event="accepted", order=request.order)
    return GoalResponse.ACCEPT


def execute(goal):
    order = goal.request.order
    if TRACE:
        say(event="executing", order=order)
    if order == -1:
        goal.abort()
        say(event="aborted")
        return Fibonacci.Result(sequence=[-1])
    sequence = [0, 1]
    for i in range(order):
        if goal.is_cancel_requested:
            goal.canceled()
            say(event="canceled", at=len(sequence))
            return Fibonacci.Result(sequence=sequence)
        if i >= 2:
            # Modulo a prime below 2**31: a long goal's numbers stay int32.
            sequence.append((sequence[-1] + sequence[-2]) % 1_000_000_007)
        goal.publish_feedback(Fibonacci.Feedback(sequence=sequence[: i + 1]))
        time.sleep(STEP)
    goal.succeed()
    say(event="done", order=order)
    return Fibonacci.Result(sequence=sequence[:order])


rclpy.init()
node = Node("fibonacci_server")
ActionServer(node, Fibonacci, ACTION, execute_callback=execute, goal_callback=on_goal,
             cancel_callback=on_cancel)
def on_ping(_, response):
    if TRACE:
        say(event="ping")
    return Trigger.Response(success=True, message="pong")


def on_light(request, response):
    if TRACE:
        say(event="light", data=request.data)
    return SetBool.Response(success=True, message="light on" if request.data else "light off")


node.create_service(Trigger, "/fibonacci_server/ping", on_ping)
node.create_service(SetBool, "/fibonacci_server/light", on_light)
node.create_service(GetState, "/fibonacci_server/get_state",
                    lambda _, response: GetState.Response(current_state=State(id=3, label="active")))
node.create_subscription(String, "/screen_text", lambda m: say(event="heard", text=m.data), 10)
executor = MultiThreadedExecutor()
executor.add_node(node)
end = time.time() + seconds
while time.time() < end:
    executor.spin_once(timeout_sec=0.05)
node.destroy_node()
rclpy.shutdown()
