"""An rclpy client of `codeact node --ros` using the generated Python types
of codeact_interfaces: calls Execute (variables persist), watches the live
output, interrupts a long action with an e-stop and times the zero velocity
on /cmd_vel, clears the e-stop, and sends a RunTask goal. Prints one JSON line.
With `--estop-cycles N` it repeats the e-stop N times (for the benchmark)."""
import json
import sys
import time

import rclpy
from rclpy.action import ActionClient
from rclpy.node import Node
from geometry_msgs.msg import Twist
from std_msgs.msg import Bool
from std_srvs.srv import Trigger
from codeact_interfaces.action import RunTask
from codeact_interfaces.msg import ActionOutput
from codeact_interfaces.srv import Execute

cycles = int(sys.argv[sys.argv.index("--estop-cycles") + 1]) if "--estop-cycles" in sys.argv else 1
task = sys.argv[sys.argv.index("--task") + 1] if "--task" in sys.argv else None
rclpy.init()
node = Node("node_client")
execute = node.create_client(Execute, "/codeact/execute")
clear = node.create_client(Trigger, "/codeact/clear_e_stop")
e_stop = node.create_publisher(Bool, "/e_stop", 10)
outputs, cmds = [], []
node.create_subscription(ActionOutput, "/codeact/output", lambda m: outputs.append((m.action, m.kind, m.text)), 100)
node.create_subscription(Twist, "/cmd_vel", lambda m: cmds.append((time.time(), m.linear.x, m.angular.z)), 100)
report = {}


def wait(future, seconds):
    end = time.time() + seconds
    while not future.done() and time.time() < end:
        rclpy.spin_once(node, timeout_sec=0.01)
    return future.result() if future.done() else None


def call(code, timeout=20.0):
    return wait(execute.call_async(Execute.Request(code=code, timeout=timeout)), timeout + 10)


if not execute.wait_for_service(timeout_sec=30):
    print(json.dumps({"error": "no /codeact/execute service"}))
    sys.exit(1)
r = call("x = 21\nprint(get_pose())")
report["first"] = {"status": r.status, "output": r.output, "skills": [c.skill for c in r.skill_calls], "state": r.robot_state}
r = call("x * 2")
report["second"] = {"status": r.status, "result": r.result, "has_result": r.has_result}
r = call("1 / 0")
report["error"] = {"status": r.status, "type": r.error_type, "traceback": r.traceback}
r = call("import numpy as np\nshow(np.zeros((4, 6, 3), dtype=np.uint8), 'black')")
report["picture"] = {"status": r.status, "formats": [i.format for i in r.images], "captions": list(r.image_captions),
                     "png": [bytes(i.data[:8]) == b"\x89PNG\r\n\x1a\n" for i in r.images]}
r = wait(execute.call_async(Execute.Request(code="print('never')", timeout=-1.0)), 20)
report["bad_timeout"] = {"status": r.status, "type": r.error_type, "message": r.error_message, "output": r.output}

latencies, stops = [], []
for cycle in range(cycles):
    future = execute.call_async(Execute.Request(code="drive(0.3, 0.0, 20.0)", timeout=30.0))
    end = time.time() + 15
    while time.time() < end and not any(v > 0.05 for t, v, w in cmds[-3:]):
        rclpy.spin_once(node, timeout_sec=0.005)
    sent = time.time()
    e_stop.publish(Bool(data=True))
    zero_at = None
    while time.time() < sent + 5 and zero_at is None:
        rclpy.spin_once(node, timeout_sec=0.001)
        zero_at = next((t for t, v, w in cmds if t >= sent and v == 0.0 and w == 0.0), None)
    r = wait(future, 10)
    if zero_at is not None:
        latencies.append((zero_at - sent) * 1000)
    stops.append({"status": r.status if r else None, "type": r.error_type if r else None,
                  "message": r.error_message if r else None, "safe_stop": r.safe_stop if r else None})
    refused = call("drive(0.2, 0.0, 1.0)")
    stops[-1]["while_latched"] = refused.error_type
    cleared = wait(clear.call_async(Trigger.Request()), 10)
    stops[-1]["cleared"] = cleared.message if cleared else None
    time.sleep(0.3)
report["estop_ms"] = latencies
report["stops"] = stops
r = call("print(get_pose())")
report["after"] = {"status": r.status}
report["outputs"] = [list(o) for o in outputs[:50]]

if task is not None:
    client = ActionClient(node, RunTask, "/codeact/run_task")
    client.wait_for_server(timeout_sec=20)
    feedback = []
    goal = wait(client.send_goal_async(RunTask.Goal(task=task, max_turns=4),
                                       feedback_callback=lambda f: feedback.append(
                                           {"turn": f.feedback.turn, "code": f.feedback.code,
                                            "observation": f.feedback.observation})), 20)
    result = wait(goal.get_result_async(), 120)
    report["task"] = {"accepted": goal.accepted, "success": result.result.success,
                      "stop_reason": result.result.stop_reason, "summary": result.result.summary,
                      "turns": result.result.turns, "feedback": feedback}
    if "--cancel-task" in sys.argv:
        # A second goal whose action drives for long: cancel it once the robot moves.
        cmds.clear()
        goal = wait(client.send_goal_async(RunTask.Goal(task="drive far", max_turns=4)), 20)
        end = time.time() + 30
        while time.time() < end and not any(v > 0.05 for t, v, w in cmds[-3:]):
            rclpy.spin_once(node, timeout_sec=0.005)
        moving = any(v > 0.05 for t, v, w in cmds)
        cancelled_at = time.time()
        wait(goal.cancel_goal_async(), 10)
        result = wait(goal.get_result_async(), 30)
        time.sleep(0.3)
        for _ in range(20):
            rclpy.spin_once(node, timeout_sec=0.01)
        after = [v for t, v, w in cmds if t > cancelled_at + 0.2]
        report["cancel"] = {"moving_before": moving, "status": result.status,
                            "stop_reason": result.result.stop_reason,
                            "stopped": bool(cmds) and cmds[-1][1] == 0.0 and all(v == 0.0 for v in after)}
print(json.dumps(report))
node.destroy_node()
rclpy.shutdown()
