# The worker's Python side: builds the skill functions, runs code actions in a
# persistent namespace and reports how each ended. Loaded once per worker from
# the codeact binary; `_codeact` is the Rust module (python.rs).
import ast
import builtins
import linecache
import os
import signal
import sys
import traceback

import _codeact

RUNNER_FILE = "<codeact>"
SKILLS_FILE = "<skills>"
_HIDDEN_FILES = (RUNNER_FILE, SKILLS_FILE)
RESULT_REPR_LIMIT = 4000


class ActionTimeout(BaseException):
    """The action ran past its time limit. Not an Exception: `except Exception` does not catch it."""
    __module__ = "builtins"


class SkillCallRefused(RuntimeError):
    """A skill was called from where it may not be: a thread or process that outlived its action."""
    __module__ = "builtins"


class OutputLimitExceeded(BaseException):
    """The action wrote more output than allowed; print less (summaries, not whole arrays)."""
    __module__ = "builtins"


_skills = {}      # name -> function, the originals restored before and after each action
_protected = {}   # name -> object: skills, exception and record classes
namespace = {"__name__": "__main__", "__builtins__": builtins}


def _make_record(name, fields, doc, methods):
    args = ", ".join(fields)
    body = "".join(f"        self.{f} = {f}\n" for f in fields) or "        pass\n"
    reprs = ", ".join(f"{f}={{self.{f}!r}}" for f in fields)
    src = (
        f"class {name}:\n"
        f"    {doc!r}\n"
        f"    __slots__ = {tuple(fields)!r}\n"
        f"    _codeact_fields = {tuple(fields)!r}\n"
        f"    def __init__(self, {args}):\n{body}"
        f"    def __repr__(self):\n        return f\"{name}({reprs})\"\n"
        f"    def __eq__(self, other):\n"
        f"        return type(other) is type(self) and all(getattr(self, f) == getattr(other, f) for f in self._codeact_fields)\n"
        f"    def _asdict(self):\n        return {{f: getattr(self, f) for f in self._codeact_fields}}\n"
        f"{methods}"
    )
    scope = {}
    exec(compile(src, f"<record {name}>", "exec"), scope)
    return scope[name]


def init(errors, records, skills_source):
    """errors: [(name, base, doc)]; records: [(name, fields, doc, methods)];
    skills_source: generated `def` statements calling `__codeact_call`."""
    classes = {"ValueError": ValueError, "ActionTimeout": ActionTimeout,
               "SkillCallRefused": SkillCallRefused,
               "OutputLimitExceeded": OutputLimitExceeded}
    for name, base, doc in errors:
        if name not in classes:
            # Module "builtins" so tracebacks say `Blocked: ...`, not `robot.Blocked: ...`.
            classes[name] = type(name, (classes.get(base) or getattr(builtins, base),),
                                 {"__doc__": doc, "__module__": "builtins"})
    record_classes = {}
    for name, fields, doc, methods in records:
        record_classes[name] = _make_record(name, fields, doc, methods)
    _codeact.register(classes, record_classes)

    scope = dict(record_classes)
    scope["__codeact_call"] = _codeact.call_skill
    scope["__name__"] = "robot"
    linecache.cache[SKILLS_FILE] = (len(skills_source), None, skills_source.splitlines(True), SKILLS_FILE)
    exec(compile(skills_source, SKILLS_FILE, "exec"), scope)
    for name in list(scope):
        obj = scope[name]
        if callable(obj) and getattr(obj, "__module__", None) == "robot" and not isinstance(obj, type):
            _skills[name] = obj
    _protected.update(_skills)
    _protected.update({k: v for k, v in classes.items() if k != "ValueError"})
    _protected.update(record_classes)
    namespace.update(_protected)

    sys.stdout = _codeact.Stream(1)
    sys.stderr = _codeact.Stream(2)
    signal.signal(signal.SIGUSR1, _on_interrupt)
    os.register_at_fork(after_in_child=_codeact.after_fork_in_child)


def _on_interrupt(signum, frame):
    reason = _codeact.take_interrupt()
    if reason == 1:
        raise ActionTimeout("the action ran past its time limit and was stopped")
    if reason == 2:
        raise KeyboardInterrupt("the action was interrupted on request")


def _restore_protected():
    """Puts back skills and classes the action deleted or replaced; returns their names."""
    changed = [n for n, obj in _protected.items() if namespace.get(n) is not obj]
    for name in changed:
        namespace[name] = _protected[name]
    return changed


def _filter_stack(te):
    te.stack = traceback.StackSummary.from_list(
        [f for f in te.stack if f.filename not in _HIDDEN_FILES])
    for nested in (te.__cause__, te.__context__):
        if nested is not None:
            _filter_stack(nested)


def _error_line(exc, filename):
    if isinstance(exc, SyntaxError) and exc.filename == filename:
        return exc.lineno
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _report(exc, filename):
    te = traceback.TracebackException(type(exc), exc, exc.__traceback__, compact=True)
    _filter_stack(te)
    text = "".join(te.format())
    name = type(exc).__qualname__
    try:
        message = str(exc)
    except BaseException:  # a hostile __str__
        message = "<exception message could not be shown>"
    return (name, message, text, _error_line(exc, filename))


def _safe_repr(value):
    try:
        text = repr(value)
    except BaseException as e:
        return f"<repr failed: {type(e).__name__}>"
    if len(text) > RESULT_REPR_LIMIT:
        half = RESULT_REPR_LIMIT // 2
        text = f"{text[:half]} ... [{len(text) - RESULT_REPR_LIMIT} characters cut] ... {text[-half:]}"
    return text


def run(code, action):
    """Runs one action. Returns (result_repr, error, interrupted, notes, abnormal)."""
    filename = f"<action {action}>"
    notes = []
    restored = _restore_protected()
    if restored:
        notes.append("restored skill functions or classes replaced earlier: " + ", ".join(restored))
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    result = error = None
    interrupted = 0
    _codeact.set_in_user_code(True)
    try:
        tree = ast.parse(code, filename, "exec")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        exec(compile(tree, filename, "exec"), namespace)
        if last is not None:
            value = eval(compile(last, filename, "eval"), namespace)
            if value is not None:
                namespace["_"] = value
                result = _safe_repr(value)
        _codeact.set_in_user_code(False)
    except BaseException as exc:
        _codeact.set_in_user_code(False)
        try:
            error = _report(exc, filename)
        except BaseException as e2:
            error = (type(exc).__name__, "", f"{type(exc).__name__} (traceback failed: {type(e2).__name__})\n", None)
        if isinstance(exc, ActionTimeout):
            interrupted = 1
        elif isinstance(exc, KeyboardInterrupt):
            interrupted = 2
        del exc
    tampered = _restore_protected()
    abnormal = False
    if tampered:
        abnormal = True
        notes.append("this action deleted or replaced robot skill functions or classes ("
                     + ", ".join(tampered) + "); the originals were restored")
    for stream in (sys.stdout, sys.stderr):
        if not isinstance(stream, _codeact.Stream):
            abnormal = True
            notes.append("this action replaced sys.stdout or sys.stderr; they were restored")
            break
    sys.stdout = _codeact.Stream(1)
    sys.stderr = _codeact.Stream(2)
    return (result, error, interrupted, notes, abnormal)
