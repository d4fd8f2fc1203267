# The worker's Python side: builds the skill functions, runs code actions in a
# persistent namespace and reports how each ended. Loaded once per worker from
# the codeact binary; `_codeact` is the Rust module (python.rs).
import ast
import builtins
import inspect
import io
import keyword
import linecache
import math
import os
import re
import signal
import symtable
import sys
import textwrap
import traceback
import types

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
_protected_items = ()
_streams = ()     # (stdout, stderr): the worker's output streams
# `math` is there from the start: angles are radians, and examples use math.pi.
namespace = {"__name__": "__main__", "__builtins__": builtins, "math": math}


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


def init(errors, records, skills_source, library_dir):
    """errors: [(name, base, doc)]; records: [(name, fields, doc, methods)];
    skills_source: generated `def` statements calling `__codeact_call`;
    library_dir: the skill library folder or None. Returns what the library
    loaded (see `_load_library`)."""
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
    scope["_codeact_start"] = _start_skill
    scope["__name__"] = "robot"
    linecache.cache[SKILLS_FILE] = (len(skills_source), None, skills_source.splitlines(True), SKILLS_FILE)
    exec(compile(skills_source, SKILLS_FILE, "exec"), scope)
    for name in list(scope):
        obj = scope[name]
        if callable(obj) and getattr(obj, "__module__", None) == "robot" and not isinstance(obj, type):
            _skills[name] = obj
    if "save_skill" in _skills:
        # The declared skill takes (source, name); people pass the function.
        global _save_source
        _save_source = _skills["save_skill"]
        save_skill.__doc__ = _save_source.__doc__
        _skills["save_skill"] = save_skill
    _protected.update(_skills)
    # A fleet: each robot object by its name, and all of them as `robots`.
    if isinstance(scope.get("robots"), dict):
        _protected["robots"] = types.MappingProxyType(dict(scope["robots"]))
        _protected.update(scope["robots"])
        _protected["together"] = together
        _protected["Started"] = Started
    _protected.update({k: v for k, v in classes.items() if k != "ValueError"})
    _protected.update(record_classes)
    _protected["show"] = show
    namespace.update(_protected)
    # Helper modules reach the skills as `from robot import move_to`, the
    # module the skill functions say they belong to.
    robot = types.ModuleType("robot", "The robot's skills, exceptions and record types.")
    robot.__dict__.update(_protected)
    sys.modules["robot"] = robot
    # As at Python's own prompt, modules written in the workspace import by name.
    sys.path.insert(0, os.getcwd())
    global _protected_items, _streams
    _protected_items = tuple(_protected.items())
    _streams = (_codeact.Stream(1), _codeact.Stream(2))
    sys.stdout, sys.stderr = _streams
    signal.signal(signal.SIGUSR1, _on_interrupt)
    os.register_at_fork(after_in_child=_codeact.after_fork_in_child)
    return _load_library(library_dir)


class Started:
    """A skill call started with robot.start(skill, ...): .wait() for its result."""

    def __init__(self, robot, skill, index, handle):
        self.robot, self.skill = robot, skill
        self._index, self._handle = index, handle
        self._outcome = None  # (True, result) or (False, exception) once waited for

    def __repr__(self):
        return f"Started({self.robot}.{self.skill})"

    def wait(self):
        """Waits until the call ends; returns its result or raises its error."""
        if self._outcome is None:
            try:
                self._outcome = (True, _codeact.wait_skill(self._index, self._handle))
            except Exception as e:
                self._outcome = (False, e)
        ok, value = self._outcome
        if ok:
            return value
        raise value


def _start_skill(robot, skill, args, kwargs):
    method = getattr(robot, skill, None) if isinstance(skill, str) else None
    index = getattr(method, "_codeact_index", None)
    if index is None:
        raise ValueError(f"{robot.name} has no skill {skill!r}; give a skill's name: {robot.name}.start('move_to', 3, 4)")
    bound = inspect.signature(method).bind(*args, **kwargs)
    bound.apply_defaults()
    return Started(robot.name, skill, index, _codeact.start_skill(index, tuple(bound.arguments.values())))


def together(*calls):
    """Waits for every started call (robot.start(...)) and returns their
    results in order. When some failed, raises the first failure once all
    have ended, with the others' errors noted. Example:
    together(alpha.start('move_to', 3, 4), beta.start('move_to', 5, 1))"""
    results, failures = [], []
    for call in calls:
        if not isinstance(call, Started):
            raise TypeError(f"together() takes started calls (robot.start(...)), not {type(call).__name__}")
        try:
            results.append(call.wait())
        except Exception as e:
            results.append(None)
            failures.append((call, e))
    if failures:
        first = failures[0][1]
        for call, e in failures[1:]:
            first.add_note(f"also {call!r} raised {type(e).__name__}: {e}")
        raise first
    return results


# The skill library: modules of functions composed of skills, loaded at start.
LIBRARY_LOAD_SECONDS = 5.0  # per module; one that loops when loaded is reported, not waited for
_library = {}  # name -> function the library (or save_skill) gave the namespace
_save_source = None  # the declared save_skill(source, name), served by the supervisor


class LibraryLoadTimeout(Exception):
    """A library module took too long to load."""
    __module__ = "builtins"


def _on_load_alarm(signum, frame):
    raise LibraryLoadTimeout(f"loading took more than {LIBRARY_LOAD_SECONDS:g} s; a library module should only define functions")


def _run_module(path, scope):
    """Runs one library module in `scope`, its output discarded, under a time limit."""
    with open(path, encoding="utf-8") as f:
        source = f.read()
    linecache.cache[path] = (len(source), None, source.splitlines(True), path)
    code = compile(source, path, "exec")
    sys.stdout = sys.stderr = io.StringIO()
    # Repeating: a module that catches the first alarm gets another.
    signal.setitimer(signal.ITIMER_REAL, LIBRARY_LOAD_SECONDS, 0.5)
    try:
        exec(code, scope)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        sys.stdout, sys.stderr = _streams


def _load_library(directory):
    """Runs each module of the library folder (in name order) with the skills,
    records, exceptions and math predefined, and puts their public functions
    in the namespace. A module that fails is reported and skipped; the rest
    load. Returns ([(name, signature, doc, module)], [(module, error)])."""
    functions, broken = [], []
    if not directory or not os.path.isdir(directory):
        return functions, broken
    files = sorted(f for f in os.listdir(directory) if f.endswith(".py") and not f.startswith((".", "_")))
    scopes = []
    previous = signal.signal(signal.SIGALRM, _on_load_alarm)
    try:
        for file in files:
            path = os.path.join(directory, file)
            module = "library." + file[:-3]
            scope = {"__name__": module, "__file__": path, "__builtins__": builtins, "math": math}
            scope.update(_protected)
            try:
                _run_module(path, scope)
            except BaseException as exc:
                broken.append((path, _format_exception(exc)))
                continue
            scopes.append(scope)
            for name, obj in list(scope.items()):
                if not isinstance(obj, types.FunctionType) or obj.__module__ != module or name.startswith("_"):
                    continue
                if name in _protected:
                    broken.append((path, f"{name}() was not loaded: it would shadow the skill {name}(); rename it"))
                elif name in _library:
                    broken.append((path, f"{name}() was not loaded: {_library[name].__globals__['__file__']} defines it already; keep one"))
                else:
                    _library[name] = obj
                    functions.append((name, *_describe_function(obj), path))
    finally:
        signal.signal(signal.SIGALRM, previous)
    # Each module sees the others' functions, as the namespace does.
    for scope in scopes:
        for name, fn in _library.items():
            scope.setdefault(name, fn)
    namespace.update(_library)
    return functions, broken


def _describe_function(fn):
    """(signature, docstring) as `help()` would show them."""
    import inspect
    try:
        signature = str(inspect.signature(fn))
    except (TypeError, ValueError):
        signature = "(...)"
    return signature, inspect.cleandoc(fn.__doc__ or "")


def _function_node(function):
    """The lines and the `def` node of a function defined in an action or a library module."""
    code = function.__code__
    lines = linecache.getlines(code.co_filename)
    if not lines:
        raise ValueError(f"save_skill(): the source of {function.__name__} is not available; define it with def in a code action")
    for node in ast.walk(ast.parse("".join(lines))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == code.co_name \
                and min([node.lineno] + [d.lineno for d in node.decorator_list]) == code.co_firstlineno:
            return lines, node
    raise ValueError(f"save_skill(): the source of {function.__name__} was not found where it was defined")


def _unresolved_names(source, name):
    """Global names the function uses that a freshly loaded library would not have."""
    known = set(_protected) | set(_library) | set(vars(builtins)) | {"math", name}
    used = set()
    tables = [symtable.symtable(source, "<skill>", "exec")]
    while tables:
        table = tables.pop()
        tables.extend(table.get_children())
        used.update(s.get_name() for s in table.get_symbols() if s.is_global() and s.is_referenced())
    return sorted(used - known)


def save_skill(function, name=None):
    if not isinstance(function, types.FunctionType):
        raise TypeError(f"save_skill() takes a function defined with def, not {type(function).__name__}")
    if name is not None and not isinstance(name, str):
        raise TypeError(f"save_skill(): name must be a str, not {type(name).__name__}")
    if function.__name__ == "<lambda>":
        raise ValueError("save_skill(): a lambda has no name or docstring; define the function with def")
    if "<locals>" in function.__qualname__:
        raise ValueError(f"save_skill(): {function.__name__} is defined inside another function; define it at the top level of an action")
    lines, node = _function_node(function)
    if node.decorator_list:
        raise ValueError(f"save_skill(): {function.__name__} has decorators, which the library cannot restore; save the function without them")
    name = name or function.__name__
    if not name.isidentifier() or name.startswith("_") or keyword.iskeyword(name):
        raise ValueError(f"save_skill(): {name!r} is not a function name: use letters, digits and underscores, starting with a letter")
    if name in _protected or name in vars(builtins):
        raise ValueError(f"save_skill(): {name} would shadow the skill or built-in {name}(); choose another name, such as my_{name}")
    if not ast.get_docstring(node):
        raise ValueError(f"save_skill(): {function.__name__} has no docstring; add one saying what it does, its parameters (with units) and what it returns: later sessions read it to decide when to use it")
    source = textwrap.dedent("".join(lines[node.lineno - 1:node.end_lineno]))
    if name != function.__name__:
        source = re.sub(rf"^((?:async\s+)?def\s+){re.escape(function.__name__)}\b", rf"\g<1>{name}", source, count=1)
    compile(source, f"<skill {name}>", "exec")
    missing = _unresolved_names(source, name)
    if missing:
        raise ValueError(f"save_skill(): {name} uses {', '.join(missing)}, which will not exist when the library loads in a new session; import modules inside the function, pass values as parameters, or save the functions it calls first")
    written = _save_source(source, name)
    _library[name] = function
    namespace[name] = function
    return written


# (code, exception class name, message) of each interrupt reason, from Rust.
_INTERRUPTS = (_codeact.INTERRUPT_TIMEOUT, _codeact.INTERRUPT_REQUEST)


def _on_interrupt(signum, frame):
    reason = _codeact.take_interrupt()
    for code, name, message in _INTERRUPTS:
        if reason == code:
            raise (ActionTimeout if name == "ActionTimeout" else KeyboardInterrupt)(message)


def _restore_protected():
    """Puts back skills and classes that were deleted or replaced; returns their names."""
    get = namespace.get
    changed = [n for n, obj in _protected_items if get(n) is not obj]
    for name in changed:
        namespace[name] = _protected[name]
    return changed


# Tracebacks are formatted here rather than by `traceback.TracebackException`:
# the standard formatter parses each failing line again to place its `~~^~~`
# marks, which made an error cost several times a whole action. The layout is
# the standard one, with plain `^` carets under the failing expression.
_CAUSE = "\nThe above exception was the direct cause of the following exception:\n\n"
_CONTEXT = "\nDuring handling of the above exception, another exception occurred:\n\n"
_REPEAT_CUTOFF = 3  # identical consecutive frames shown before "[Previous line repeated ...]"


def _caret(line, code, lasti, lineno):
    """The `^` line under the expression that failed, or "" when it spans the whole line."""
    if lasti < 0:
        return ""
    for i, position in enumerate(code.co_positions()):
        if i == lasti // 2:
            break
    else:
        return ""
    start_line, end_line, col, end_col = position
    if start_line != lineno or col is None or end_col is None:
        return ""
    text = line.rstrip("\r\n")
    raw = text.encode("utf-8", "replace")
    start = len(raw[:col].decode("utf-8", "replace"))
    indent = len(text) - len(text.lstrip())
    stripped_len = len(text.strip())
    end = len(raw[:end_col].decode("utf-8", "replace")) if end_line == lineno else indent + stripped_len
    if start < indent or end <= start or end - start >= stripped_len:
        return ""
    return "    " + " " * (start - indent) + "^" * (end - start) + "\n"


def _format_stack(tb):
    """The visible frames of a traceback, oldest first, repeats collapsed."""
    out = []
    last = None
    count = 0

    def repeated():
        n = count - _REPEAT_CUTOFF
        return f"  [Previous line repeated {n} more time{'s' if n > 1 else ''}]\n"

    while tb is not None:
        code = tb.tb_frame.f_code
        filename, lineno = code.co_filename, tb.tb_lineno
        if filename not in _HIDDEN_FILES:
            key = (filename, lineno, code.co_name)
            if key != last:
                if count > _REPEAT_CUTOFF:
                    out.append(repeated())
                last, count = key, 0
            count += 1
            if count <= _REPEAT_CUTOFF:
                out.append(f'  File "{filename}", line {lineno}, in {code.co_name}\n')
                line = linecache.getline(filename, lineno)
                if line.strip():
                    out.append(f"    {line.strip()}\n")
                    out.append(_caret(line, code, tb.tb_lasti, lineno))
        tb = tb.tb_next
    if count > _REPEAT_CUTOFF:
        out.append(repeated())
    return out


# Exceptions the standard formatter adds a hint to ("Did you mean: 'get_pose'?").
_SUGGESTING = (NameError, AttributeError, ImportError)


def _suggestion(exc, message):
    """The interpreter's hint after `message` (". Did you mean: 'x'?"), or "".

    CPython 3.11 adds it only when it prints an exception itself (in C), not
    in the `traceback` module, so the default hook prints into a buffer here.
    """
    buffer = io.StringIO()
    saved = sys.stderr
    try:
        sys.stderr = buffer
        sys.__excepthook__(type(exc), exc, exc.__traceback__)
    except BaseException:  # a hostile __str__ or __dir__
        return ""
    finally:
        sys.stderr = saved
    for line in reversed(buffer.getvalue().splitlines()):
        at = line.find(message) if message else -1
        if at >= 0:
            return line[at + len(message):]
    return ""


def _format_one(exc):
    """One exception: its stack and its `Type: message` line(s)."""
    out = _format_stack(exc.__traceback__)
    if isinstance(exc, SyntaxError) and str(exc.filename).startswith("<action "):
        # The action's own code did not parse: the place in it is the whole
        # story (the parser's frames, ast.py's among them, are not the code's).
        out = []
    if out:
        out.insert(0, "Traceback (most recent call last):\n")
    if isinstance(exc, SyntaxError):
        # The standard form points at the offending column; no chain is involved.
        out.extend(traceback.format_exception_only(type(exc), exc))
        return out
    cls = type(exc)
    name = cls.__qualname__
    module = cls.__module__
    if module not in ("__main__", "builtins"):
        name = f"{module}.{name}"
    try:
        message = str(exc)
    except BaseException:  # a hostile __str__
        message = "<exception str() failed>"
    if isinstance(exc, _SUGGESTING):
        message += _suggestion(exc, message)
    out.append(f"{name}: {message}\n" if message else f"{name}\n")
    notes = getattr(exc, "__notes__", None)
    if isinstance(notes, (list, tuple)):
        out.extend(f"{note}\n" for note in notes)
    return out


def _format_exception(exc):
    """The whole traceback text of `exc`, chained exceptions first, without executor frames."""
    if isinstance(exc, BaseExceptionGroup):
        te = traceback.TracebackException(type(exc), exc, exc.__traceback__, compact=True)
        return "".join(line for line in te.format() if "<codeact>" not in line)
    chain = []  # newest first: (exception, how it links to the older one after it)
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if exc.__cause__ is not None:
            chain.append((exc, _CAUSE))
            exc = exc.__cause__
        elif exc.__context__ is not None and not exc.__suppress_context__:
            chain.append((exc, _CONTEXT))
            exc = exc.__context__
        else:
            chain.append((exc, None))
            exc = None
    out = []
    for i in range(len(chain) - 1, -1, -1):
        out.extend(_format_one(chain[i][0]))
        if i > 0:
            out.append(chain[i - 1][1])
    return "".join(out)


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
    text = _format_exception(exc)
    name = type(exc).__qualname__
    try:
        message = str(exc)
    except BaseException:  # a hostile __str__
        message = "<exception message could not be shown>"
    return (name, message, text, _error_line(exc, filename))


# Bytes longer than this are described rather than shown: a picture as bytes
# is noise to a model, its size and format are not.
BYTES_SHOWN = 200
_IMAGE_MAGIC = ((b"\x89PNG\r\n\x1a\n", "PNG", "png"), (b"\xff\xd8\xff", "JPEG", "jpg"), (b"GIF8", "GIF", "gif"))


def _describe_bytes(data):
    """`<PNG image, 320x240, 4.2 KiB of bytes>` for long bytes; None for short ones."""
    if len(data) <= BYTES_SHOWN:
        return None
    size = f"{len(data) / 1024:.1f} KiB" if len(data) >= 1024 else f"{len(data)} bytes"
    image = next(((name, ext) for magic, name, ext in _IMAGE_MAGIC if data.startswith(magic)), None)
    if image is None:
        return f"<{size} of {type(data).__name__}: {bytes(data[:32])!r}...>"
    kind, ext = f"{image[0]} image", image[1]
    if ext == "png" and len(data) >= 24:
        width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
        kind = f"{kind}, {width}x{height}"
    return f"<{kind}, {size} of {type(data).__name__}; open('picture.{ext}', 'wb').write(_) saves it>"


# Pictures one action may attach with show(), and their bytes in all.
MAX_SHOWN = 8
MAX_SHOWN_BYTES = 16 << 20
_shown = []


def _array_png(image):
    import numpy
    a = numpy.ascontiguousarray(image)
    if a.dtype != numpy.uint8:
        raise ValueError(f"show(): a numpy array must have dtype uint8 (0-255), not {a.dtype}; try (a * 255).astype('uint8') for values in 0-1")
    if a.ndim == 2:
        channels = 1
    elif a.ndim == 3 and a.shape[2] in (1, 3, 4):
        channels = a.shape[2]
    else:
        raise ValueError(f"show(): a numpy array must be H x W (grey) or H x W x 3 (RGB) or x 4 (RGBA), not of shape {a.shape}")
    return _codeact.encode_png(a.tobytes(), a.shape[1], a.shape[0], channels)


def show(image, caption=None):
    """Attach a picture to this action's observation, for you to look at:
    PNG or JPEG bytes (such as get_camera_image() returns), a numpy array
    (H x W grey, H x W x 3 RGB or H x W x 4 RGBA, uint8), or the path of a
    PNG or JPEG file. caption: a few words on what it shows.

    Example: show(get_camera_image(), "looking for the red mug")"""
    if caption is not None and not isinstance(caption, str):
        raise TypeError(f"show(): caption must be a str, not {type(caption).__name__}")
    if isinstance(image, (str, os.PathLike)):
        with open(image, "rb") as f:
            data = f.read()
    elif isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
    elif hasattr(image, "__array_interface__"):
        data = _array_png(image)
    else:
        raise TypeError(f"show() takes PNG or JPEG bytes, a numpy array or a file path, not {type(image).__name__}")
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        mime = "image/png"
    elif data.startswith(b"\xff\xd8\xff"):
        mime = "image/jpeg"
    else:
        raise ValueError(f"show(): that is not a PNG or JPEG picture (it starts with {bytes(data[:8])!r})")
    try:
        _codeact.check_picture(data)
    except ValueError as e:
        raise ValueError(f"show(): the picture could not be read ({e}); is it cut short?") from None
    if len(_shown) >= MAX_SHOWN:
        raise ValueError(f"show(): at most {MAX_SHOWN} pictures per action; show fewer, or combine them")
    if sum(len(d) for d, _, _ in _shown) + len(data) > MAX_SHOWN_BYTES:
        raise ValueError(f"show(): the pictures of one action may have {MAX_SHOWN_BYTES >> 20} MiB in all; make them smaller")
    _shown.append((data, mime, caption))


def _safe_repr(value):
    if isinstance(value, (bytes, bytearray)):
        described = _describe_bytes(value)
        if described is not None:
            return described
    try:
        text = repr(value)
    except BaseException as e:
        return f"<repr failed: {type(e).__name__}>"
    if len(text) > RESULT_REPR_LIMIT:
        half = RESULT_REPR_LIMIT // 2
        text = f"{text[:half]} ... [{len(text) - RESULT_REPR_LIMIT} characters cut] ... {text[-half:]}"
    return text


def run(code, action):
    """Runs one action. Returns the report the worker reads as `RunReport`
    (crates/worker/src/lib.rs): a dict of result (repr), error, interrupted
    (an interrupt code, 0 for none), notes, abnormal and shown pictures."""
    filename = f"<action {action}>"
    notes = []
    _shown.clear()
    # Threads running Python code (native ones, such as numpy's, are not listed).
    threads_before = sys._current_frames().keys()
    if len(threads_before) > 1:
        # Threads of earlier actions are alive: they may have tampered since.
        restored = _restore_protected()
        if restored:
            notes.append("restored skill functions or classes replaced since the last action: " + ", ".join(restored))
    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    result = error = None
    interrupted = 0
    try:
        # Inside the try: an interrupt that came early is raised right here.
        _codeact.set_in_user_code(True)
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
        # The codes are the supervisor's (`InterruptReason::code`), by exception name.
        for code, name, _message in _INTERRUPTS:
            if type(exc).__name__ == name:
                interrupted = code
        del exc
    tampered = _restore_protected()
    abnormal = False
    threads_left = len(sys._current_frames().keys() - threads_before)
    if threads_left:
        abnormal = True
        notes.append(f"{threads_left} thread(s) started by this action are still running; they can no longer call skills")
    if tampered:
        abnormal = True
        notes.append("this action deleted or replaced robot skill functions or classes ("
                     + ", ".join(tampered) + "); the originals were restored")
    if sys.stdout is not _streams[0] or sys.stderr is not _streams[1]:
        if not (isinstance(sys.stdout, _codeact.Stream) and isinstance(sys.stderr, _codeact.Stream)):
            abnormal = True
            notes.append("this action replaced sys.stdout or sys.stderr; they were restored")
        sys.stdout, sys.stderr = _streams
    return {
        "result": result,
        "error": None if error is None else dict(zip(("type_name", "message", "traceback", "line"), error)),
        "interrupted": interrupted,
        "notes": notes,
        "abnormal": abnormal,
        "shown": [{"data": d, "mime": m, "caption": c} for d, m, c in _shown],
    }
