"""What each imported code block defines, reads and changes, so the import can write each section's
`needs=`: a section needs the one that last defined a name it reads, and every later one that
changed that object in place.

A block changes a name when it calls a method on it (`model.train()`, `optimizer.step()`; the
methods in READ_ONLY do not count), assigns or deletes an attribute or item of it (`x[0] = 1`,
`layer.weight = ...`), passes it to a function the lecture defines (`train(model)`) or to one whose
name ends in `_` (torch's in-place convention: `nn.init.zeros_(layer.weight)`), or calls a function
the lecture defines that changes it. Names are linked when one is made from another
(`optimizer = SGD(model.parameters())`, `loss = criterion(model(x), y)`, `for p in
model.parameters()`): changing one changes what it was made from, so `optimizer.step()` and
`loss.backward()` change `model`. Modules (names bound by an import) are never changed: `plt.plot()`
and `torch.manual_seed()` do not make later sections depend on each other, but a section that changes
a module's settings (`torch.set_printoptions(...)`, `torch.backends.cudnn.benchmark = True`) is
needed by every later one.

This errs towards needing too much: a section replayed without need costs time; one missing a
change prints what the source never printed.
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass, field

# Methods that only read their object: calling them is not a change.
READ_ONLY = frozenset("""
abs all allclose any argmax argmin bmm chunk children clone contiguous count data_ptr decode detach dim dot
element_size encode endswith eq equal exp expand expand_as extra_repr flatten format forward gather ge get
get_device gt head index is_contiguous item items join keys le log log_softmax lower lt masked_fill matmul
max mean min mm modules named_buffers named_children named_modules named_parameters ndimension ne nelement
norm numel numpy parameters permute pow prod relu repeat reshape reshape_as round sigmoid size softmax split
sqrt startswith state_dict std stride strip sum t tail tanh tolist topk transpose type unbind unflatten
unsqueeze squeeze upper values var view view_as buffers replace cumsum
""".split())
BUILTINS = frozenset(dir(builtins))
# Calls that change how everything after them runs or prints, when made on a module:
# torch.set_printoptions, np.set_printoptions, plt.style.use, warnings.filterwarnings, ...
SETTINGS = re.compile(r"^(?:set_\w+|use|use_deterministic_algorithms|filterwarnings|simplefilter|rc|rcParams)$")


@dataclass
class Effects:
    """What one block does to the names of the lecture's namespace."""

    defines: set[str] = field(default_factory=set)  # names it binds at module level
    reads: set[str] = field(default_factory=set)  # names it reads before binding them itself
    changes: set[str] = field(default_factory=set)  # names whose objects it may change in place
    links: dict[str, set[str]] = field(default_factory=dict)  # a bound name -> names it was made from
    modules: set[str] = field(default_factory=set)  # names bound by imports
    functions: dict[str, set[str]] = field(default_factory=dict)  # a def -> global names its body changes
    function_reads: dict[str, set[str]] = field(default_factory=dict)  # a def -> global names its body reads
    function_calls: dict[str, set[str]] = field(default_factory=dict)  # a def -> names its body calls
    calls: set[str] = field(default_factory=set)  # names called as functions
    passed: dict[str, set[str]] = field(default_factory=dict)  # a called name -> roots of its arguments
    settings: set[str] = field(default_factory=set)  # `torch.set_printoptions`, ...: what it sets, if rooted at a module


def effects(code: str) -> Effects:
    """The block's effects; an empty Effects for code that does not parse."""
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError):
        return Effects()
    visitor = _Visitor()
    for statement in tree.body:
        visitor.visit(statement)
    found = visitor.found
    found.reads -= BUILTINS
    found.reads |= visitor.late_reads - found.defines - BUILTINS
    return found


def root(node: ast.AST) -> str | None:
    """`x` for x, x.a.b, x[0].c, x.m().n; None for anything not rooted at a name."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call, ast.Starred)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _loads(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _stores(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}


class _Visitor(ast.NodeVisitor):
    """Walks a block's statements in the order they run, so `model = model.to(device)` reads `model`."""

    def __init__(self) -> None:
        self.found = Effects()
        self.late_reads: set[str] = set()  # free names of functions and classes: read when called

    def bind(self, target: ast.AST, made_from: set[str]) -> None:
        for name in _stores(target):
            self.found.defines.add(name)
            self.found.links[name] = set(made_from) - {name}
        if not isinstance(target, ast.Name):  # x.a = ..., x[0] = ...
            self.change(target)
            if isinstance(target, ast.Attribute):
                self.found.settings.add(ast.unparse(target))
        self.visit_targets(target)

    def visit_targets(self, target: ast.AST) -> None:
        """Reads inside a target: `x[i] = v` reads x and i."""
        for node in ast.walk(target):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                self.read(node.id)

    def read(self, name: str) -> None:
        if name not in self.found.defines:
            self.found.reads.add(name)

    def change(self, node: ast.AST) -> None:
        name = root(node)
        if name is not None:
            self.found.changes.add(name)

    # Statements

    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self.bind(target, _loads(node.value))

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
            self.bind(node.target, _loads(node.value))

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit_targets(node.target)
        if isinstance(node.target, ast.Name):
            self.read(node.target.id)
            self.found.changes.add(node.target.id)  # `x += 1` changes a tensor in place
        else:
            self.change(node.target)
        self.visit(node.value)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if not isinstance(target, ast.Name):
                self.visit_targets(target)
                self.change(target)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self.bind(node.target, _loads(node.value))

    def visit_For(self, node: ast.For) -> None:
        self.visit(node.iter)
        self.bind(node.target, _loads(node.iter))
        for statement in node.body + node.orelse:
            self.visit(statement)

    visit_AsyncFor = visit_For

    def visit_With(self, node: ast.With) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self.bind(item.optional_vars, _loads(item.context_expr))
        for statement in node.body:
            self.visit(statement)

    visit_AsyncWith = visit_With

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self.found.defines.add(node.name)
        for statement in node.body:
            self.visit(statement)

    def visit_Import(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name != "*":
                name = (alias.asname or alias.name).split(".")[0]
                self.found.defines.add(name)
                self.found.modules.add(name)
                self.found.links[name] = set()

    visit_ImportFrom = visit_Import

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> None:
        for decorator in node.decorator_list:
            self.visit(decorator)
        if isinstance(node, ast.ClassDef):
            for base in node.bases + [k.value for k in node.keywords]:
                self.visit(base)
        else:
            for default in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
                self.visit(default)
        free, changed, calls = _scope(node)
        self.late_reads |= free
        self.found.defines.add(node.name)
        self.found.links[node.name] = set()
        self.found.functions[node.name] = changed
        self.found.function_reads[node.name] = free
        self.found.function_calls[node.name] = calls

    visit_AsyncFunctionDef = visit_ClassDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self.late_reads |= _scope(node)[0]

    def visit_Global(self, node: ast.Global) -> None:
        pass

    # Expressions

    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self.read(node.id)
        else:
            self.found.defines.add(node.id)

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        arguments = {root(a) for a in node.args + [k.value for k in node.keywords]} - {None}
        if isinstance(node.func, ast.Attribute):
            if SETTINGS.match(node.func.attr):
                self.found.settings.add(ast.unparse(node.func))
            if node.func.attr not in READ_ONLY:
                self.change(node.func.value)
            if node.func.attr.endswith("_") and not node.func.attr.endswith("__"):
                self.found.changes |= arguments
        elif isinstance(node.func, ast.Name):
            self.found.calls.add(node.func.id)
            self.found.passed.setdefault(node.func.id, set()).update(arguments)
            if node.func.id.endswith("_") and not node.func.id.endswith("__"):
                self.found.changes |= arguments

    def _comprehension(self, node) -> None:
        for generator in node.generators:
            self.visit(generator.iter)
            for name in _stores(generator.target):
                self.found.defines.add(name)
            for condition in generator.ifs:
                self.visit(condition)
        for part in ("elt", "key", "value"):
            if hasattr(node, part):
                self.visit(getattr(node, part))

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comprehension


def _scope(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
    """(the names a function or class reads from the module, the module names its body changes, the
    names it calls)."""
    local: set[str] = set()
    if not isinstance(node, ast.ClassDef):
        arguments = node.args
        local |= {a.arg for a in arguments.args + arguments.kwonlyargs + arguments.posonlyargs}
        local |= {a.arg for a in (arguments.vararg, arguments.kwarg) if a}
    body = node.body if isinstance(node.body, list) else [node.body]
    declared_global = {name for statement in body for n in ast.walk(statement) if isinstance(n, ast.Global)
                       for name in n.names}
    for statement in body:
        for n in ast.walk(statement):
            if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load):
                local.add(n.id)
            elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                local.add(n.name)
            elif isinstance(n, (ast.Import, ast.ImportFrom)):
                local |= {(a.asname or a.name).split(".")[0] for a in n.names}
            elif isinstance(n, ast.ExceptHandler) and n.name:
                local.add(n.name)
            elif isinstance(n, ast.arguments):
                local |= {a.arg for a in n.args + n.kwonlyargs + n.posonlyargs}
                local |= {a.arg for a in (n.vararg, n.kwarg) if a}
    local -= declared_global
    inner = _Visitor()
    for statement in body:
        inner.visit(statement)
    free = (inner.found.reads | inner.late_reads | _loads_all(body)) - local - BUILTINS  # `super()` in a method is no need
    changed: set[str] = set()
    stack = list(inner.found.changes | declared_global)
    while stack:  # `opt = SGD(model.parameters()); opt.step()` inside the body changes the global model
        name = stack.pop()
        if name not in changed:
            changed.add(name)
            stack.extend(inner.found.links.get(name, ()))
    return free, changed - local, inner.found.calls


def _loads_all(body: list) -> set[str]:
    return {name for statement in body for name in _loads(statement)}


# ----------------------------------------------------------------------------------------------
# Across a lecture


@dataclass
class Needs:
    """For one section: the earlier sections it needs, each with the names that made it needed."""

    needs: dict[str, set[str]]
    undefined: set[str]  # names it reads that no earlier code defines


class Tracker:
    """Follows a lecture's namespace section by section: who defined each name last and who changed it
    since."""

    def __init__(self, setup: str = "") -> None:
        self.writers: dict[str, list[str]] = {}  # name -> defining section, then the ones that changed it
        self.links: dict[str, set[str]] = {}
        self.modules: set[str] = set()
        self.functions: dict[str, set[str]] = {}  # a def of the lecture -> names its body changes
        self.settings: dict[str, set[str]] = {}  # section -> module settings it made: later sections need it
        self.function_reads: dict[str, set[str]] = {}  # a def -> global names its body reads when called
        self.function_calls: dict[str, set[str]] = {}
        self.writers["device"] = [""]  # the build defines it for every section
        if setup.strip():
            self.add("", [setup])  # the setup runs before every section: never needed

    def add(self, section: str, blocks: list[str]) -> Needs:
        """Record a section's code blocks, in order; return what the section needs."""
        needs: dict[str, set[str]] = {}
        undefined: set[str] = set()
        own: set[str] = set()
        for code in blocks:
            found = effects(code)
            self.function_reads.update(found.function_reads)
            self.function_calls.update(found.function_calls)
            called = self._called(found.calls)
            # Calling a lecture function reads the globals its body reads, as they are at the call.
            reads = found.reads | {n for f in called for n in self.function_reads.get(f, ())}
            for name in sorted(reads - own):
                if name not in self.writers:
                    undefined.add(name)
                for writer in self.writers.get(name, []):
                    if writer and writer != section:
                        needs.setdefault(writer, set()).add(name)
            self.modules |= found.modules
            settings = {s for s in found.settings if s.split(".")[0].split("[")[0] in self.modules}
            if settings and section:
                self.settings.setdefault(section, set()).update(settings)
            self.functions.update(found.functions)
            for name in found.defines:
                self.writers[name] = [section]
                own.add(name)
            self.links.update(found.links)
            changed = set(found.changes)
            for function in called & self.functions.keys():
                changed |= self.functions[function] | found.passed.get(function, set())
            for name in self._linked(changed) - self.modules - self.functions.keys():
                writers = self.writers.get(name)
                if writers is not None and writers[-1] != section:
                    writers.append(section)
        for writer, settings in self.settings.items():
            if writer != section:
                needs.setdefault(writer, set()).update(settings)
        return Needs(needs, undefined)

    def _called(self, calls: set[str]) -> set[str]:
        """The lecture functions among `calls`, and those they call, directly or not."""
        seen: set[str] = set()
        stack = [c for c in calls if c in self.function_reads]
        while stack:
            name = stack.pop()
            if name not in seen:
                seen.add(name)
                stack.extend(c for c in self.function_calls.get(name, ()) if c in self.function_reads)
        return seen

    def _linked(self, names: set[str]) -> set[str]:
        """The names and everything they were made from, directly or not."""
        seen: set[str] = set()
        stack = list(names)
        while stack:
            name = stack.pop()
            if name not in seen:
                seen.add(name)
                stack.extend(self.links.get(name, ()))
        return seen
