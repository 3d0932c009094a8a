"""The privacy trust boundary of fedheme, enforced in code.

A hospital site keeps its patient-level data in ``results/<disease>/sites/<site>/private/``
(and its raw export in ``results/<disease>/exports/<site>/``). What crosses sites are the
site's releases in ``.../sites/<site>/shared/``, the trained model bundles, and what is
pooled from releases only: ``results/tables``, ``results/privacy``, figures, the manifest.

The package is laid out by trust domain, and every module is classified below:

* ``site``: runs inside one site on its patient rows (``fedheme.data``, ``fedheme.scores``,
  a site's releases, design matrix, DP client and evaluation);
* ``cross-site``: sees released files only (the server, pooling, the report, the ledger);
* ``simulated-federation``: every training site's client and the server in one job
  (``fedheme.federated.fold``), the one documented exception allowed to read the training
  sites' private files;
* ``shared``: public metadata and helpers anyone may import (io, seeding, folds, the data
  standard, models, DP accounting, metrics);
* ``jobs``: the workflow's entry points (``fedheme.jobs.<stage>``) hold site-side and
  cross-site jobs side by side, so they are classified function by function.

The tests check the boundary four ways:

1. every module (and every job function) is classified, so a new one forces a decision;
2. statically (``ast``), nothing a cross-site module or job imports, transitively, is
   site-side; and no cross-site code spells a ``private/`` path;
3. in the workflow's plan (``snakemake -n``), no cross-site rule has a private input and
   no site job reads another site's private folder;
4. at run time, the cross-site jobs rerun on a copy of a real run with every ``private/``
   and ``exports/`` folder removed, site-side modules unimportable and an audit hook
   refusing any open of a private path, and write byte-identical outputs.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, SMALL_CONFIG, make_workdir

SRC = ROOT / "src"

SITE, CROSS, SHARED, SIMFED, JOBS = "site", "cross-site", "shared", "simulated-federation", "jobs"

# --------------------------------------------------------------------------------------
# 1. The classification: one entry per module of src/fedheme, one per job function.
# --------------------------------------------------------------------------------------

#: Trust domain of every module of the package (packages by their ``__init__``).
MODULES: dict[str, str] = {
    "fedheme": SHARED,
    "fedheme._exports": SHARED,
    "fedheme.cli": SHARED,  # the command line: dispatches to either side, imported by neither
    "fedheme.folds": SHARED,
    "fedheme.grid": SHARED,  # the study grid from config (read by the rules and the privacy plan)
    "fedheme.io": SHARED,
    "fedheme.seeding": SHARED,
    # inside a site: reading, checking and transforming patient rows
    "fedheme.data": SITE,
    "fedheme.data.features": SITE,
    "fedheme.data.issues": SITE,
    "fedheme.data.simulation": SITE,
    "fedheme.data.splits": SITE,
    "fedheme.data.iwgpm": SITE,
    "fedheme.data.iwgpm.aggregates": SITE,
    "fedheme.data.iwgpm.cohort": SITE,
    "fedheme.data.iwgpm.dialects": SITE,
    "fedheme.data.iwgpm.ingest": SITE,
    "fedheme.data.iwgpm.qc": SITE,
    "fedheme.data.iwgpm.simulate": SITE,
    "fedheme.data.iwgpm.validation": SITE,
    "fedheme.data.iwgpm.transplant": SITE,
    "fedheme.data.tabular": SITE,
    "fedheme.data.tabular.ingest": SITE,
    "fedheme.data.tabular.qc": SITE,
    "fedheme.data.tabular.reading": SITE,
    "fedheme.data.tabular.simulate": SITE,
    "fedheme.scores": SITE,
    "fedheme.scores.common": SITE,
    "fedheme.scores.inputs": SITE,
    "fedheme.scores.mds": SITE,
    "fedheme.scores.myeloma": SITE,
    "fedheme.scores.sickle": SITE,
    "fedheme.scores.template": SITE,
    # validation: a test site evaluates on its rows; pooling sees released metrics only
    "fedheme.evaluation": SHARED,  # lazy exports only (followed by the import closure)
    "fedheme.evaluation.bootstrap": SHARED,
    "fedheme.evaluation.lifetable": SHARED,
    "fedheme.evaluation.metrics": SHARED,
    "fedheme.evaluation.tables": SHARED,
    "fedheme.evaluation.site": SITE,
    "fedheme.evaluation.noisy": SITE,  # a test site's count tables and their noise (deployment)
    "fedheme.evaluation.pooling": CROSS,
    # federated training
    "fedheme.federated": SHARED,  # lazy exports only
    "fedheme.federated.config": SHARED,
    "fedheme.federated.releases": SITE,
    "fedheme.federated.design": SITE,
    "fedheme.federated.client": SITE,
    "fedheme.federated.per_sample": SITE,  # per-patient gradients inside the site client
    "fedheme.federated.server": CROSS,
    "fedheme.federated.fold": SIMFED,
    "fedheme.federated.reference": SIMFED,  # the Cox reference, fitted on the pooled training sites
    # the workflow's entry points: classified per function in JOB_FUNCTIONS
    "fedheme.jobs": SHARED,  # ``logged`` only
    "fedheme.jobs.warm": SHARED,  # forks jobs from a process that imported public libraries only
    "fedheme.jobs.evaluate": JOBS,
    "fedheme.jobs.treatment": JOBS,
    "fedheme.jobs.diagnosis": JOBS,
    "fedheme.jobs.audit": JOBS,
    "fedheme.jobs.figures": JOBS,
    "fedheme.jobs.ingest": JOBS,
    "fedheme.jobs.overview": JOBS,
    "fedheme.jobs.scores": JOBS,
    "fedheme.jobs.simulate": JOBS,
    "fedheme.jobs.train": JOBS,
    # models: weights and networks, no patient rows
    "fedheme.diagnosis": SHARED,  # lazy exports only
    "fedheme.diagnosis.classification": SITE,
    "fedheme.diagnosis.release": SITE,
    "fedheme.diagnosis.pooling": CROSS,
    "fedheme.diagnosis.fhir": SITE,  # a site's patient-level FHIR export, written to its private folder
    "fedheme.diagnosis.marrow": SHARED,  # the classifier's public settings and the rule
    "fedheme.diagnosis.marrow_evaluation": SITE,
    "fedheme.diagnosis.clinic": SITE,  # a clinician's own patients
    "fedheme.diagnosis.marrow_pooling": CROSS,
    "fedheme.audit": SHARED,  # docstring only
    "fedheme.audit.attacks": SHARED,  # statistics of scores (the site computes them)
    "fedheme.audit.bounds": SHARED,  # Clopper-Pearson bounds
    "fedheme.audit.site": SITE,
    "fedheme.treatment": SHARED,  # lazy exports only
    "fedheme.treatment.coding": SHARED,  # the public time axis and coding
    "fedheme.treatment.rmst": SHARED,
    "fedheme.treatment.decision": SHARED,  # a model's survival under each policy
    "fedheme.treatment.validation": SHARED,  # metrics
    "fedheme.treatment.cohort": SITE,
    "fedheme.treatment.release": SITE,
    "fedheme.treatment.evaluation": SITE,
    "fedheme.treatment.clinic": SITE,  # a clinician's own patients
    "fedheme.treatment.pooling": CROSS,
    "fedheme.models": SHARED,
    "fedheme.models.bundle": SHARED,
    "fedheme.models.cox": SHARED,
    "fedheme.models.lightning": SHARED,
    "fedheme.models.losses": SHARED,
    "fedheme.models.networks": SHARED,
    "fedheme.models.timebins": SHARED,
    # differential privacy
    "fedheme.privacy": SHARED,  # lazy exports only
    "fedheme.privacy.accounting": SHARED,
    "fedheme.privacy.mechanisms": SHARED,
    "fedheme.privacy.suppression": SHARED,
    "fedheme.privacy.ledger": CROSS,
    "fedheme.privacy.study": CROSS,  # composes the released ledger per site
    "fedheme.privacy.independent": SHARED,  # dp-accounting recomputation of epsilon
    "fedheme.privacy.randomness": SITE,  # reads the site's secret key in its private folder
    "fedheme.privacy.budget": SITE,  # the site's study-wide accountant, in its private folder
    "fedheme.privacy.plan": SHARED,  # the study's mechanisms, from public config alone
    # networked federation (Flower): a hospital's node reads its site's rows; the
    # coordinator sees what the nodes send
    "fedheme.network": SHARED,  # lazy exports only
    "fedheme.network.study": SHARED,  # what a run is, from public config
    "fedheme.network.messages": SHARED,  # the message format
    "fedheme.network.processes": SHARED,  # starting and stopping Flower's processes
    "fedheme.network.node": SITE,
    "fedheme.network.client_app": SITE,
    "fedheme.network.pinned_clientapp": SITE,  # the ClientApp process of a hospital's SuperNode
    "fedheme.network.coordinator": CROSS,
    "fedheme.network.server_app": CROSS,
    # figures and tables of the paper, from released files only
    "fedheme.report": CROSS,
    "fedheme.report.catalogue": CROSS,
    "fedheme.report.figures": CROSS,
    "fedheme.report.heterogeneity": CROSS,
    "fedheme.report.overview": CROSS,
    "fedheme.report.style": CROSS,
    "fedheme.report.summary": CROSS,
    "fedheme.report.treatment": CROSS,
    "fedheme.report.diagnosis": CROSS,
    "fedheme.report.audit": CROSS,
    # the data standard: public metadata
    "fedheme.standard": SHARED,
    "fedheme.standard.features": SHARED,
    "fedheme.standard.mds": SHARED,
    "fedheme.standard.mds_catalogue": SHARED,
    "fedheme.standard.tabular": SHARED,
}

#: Trust domain of every top-level function of the ``jobs`` modules.
JOB_FUNCTIONS: dict[str, str] = {
    "fedheme.jobs.simulate.simulate_site_job": SITE,
    "fedheme.jobs.simulate.simulate_tabular_site_job": SITE,
    "fedheme.jobs.ingest.ingest_site_job": SITE,
    "fedheme.jobs.ingest.ingest_tabular_site_job": SITE,
    "fedheme.jobs.scores.site_scores_job": SITE,
    "fedheme.jobs.overview.site_aggregates_job": SITE,
    "fedheme.jobs.overview.site_overview_job": CROSS,
    "fedheme.jobs.overview.heterogeneity_figure_job": CROSS,
    "fedheme.jobs.overview._released_aggregates": CROSS,
    "fedheme.jobs.train.site_releases": SITE,
    "fedheme.jobs.train.training_releases_job": SITE,
    "fedheme.jobs.train.training_release_job": SITE,
    "fedheme.jobs.train.train_fold_job": SIMFED,
    "fedheme.jobs.train.privacy_ledger_job": CROSS,
    "fedheme.jobs.train.study_budget_job": CROSS,
    "fedheme.jobs.train.import_network_fold_job": CROSS,
    "fedheme.jobs.evaluate.evaluate_site_job": SITE,
    "fedheme.jobs.evaluate.metrics_table_job": CROSS,
    "fedheme.jobs.treatment.transplant_release_job": SITE,
    "fedheme.jobs.treatment.evaluate_transplant_site_job": SITE,
    "fedheme.jobs.treatment.transplant_tables_job": CROSS,
    "fedheme.jobs.diagnosis.site_classification_job": SITE,
    "fedheme.jobs.diagnosis.reclassification_table_job": CROSS,
    "fedheme.jobs.diagnosis.evaluate_marrow_site_job": SITE,
    "fedheme.jobs.audit.site_audit_job": SITE,
    "fedheme.jobs.audit.audit_table_job": CROSS,
    "fedheme.jobs.diagnosis.marrow_tables_job": CROSS,
    "fedheme.jobs.figures.convergence_table_job": CROSS,
    "fedheme.jobs.figures.figure_job": CROSS,
    "fedheme.jobs.figures.report_context_job": CROSS,
    "fedheme.jobs.figures.manifest_job": CROSS,
}

#: What nothing across sites may reach, whatever the table above says.
SITE_PACKAGES = ("fedheme.data", "fedheme.scores")
FORBIDDEN_ACROSS_SITES = {SITE, SIMFED}

DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)

Node = tuple[str, str]  # (module, scope): see ImportGraph


def module_files(src: Path = SRC) -> dict[str, Path]:
    """Every module of the package under ``src`` by its dotted name."""
    modules = {}
    for path in sorted((src / "fedheme").rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


def top_level_functions(path: Path) -> list[str]:
    return [n.name for n in ast.parse(path.read_text()).body if isinstance(n, DEFS)]


def test_every_module_is_classified():
    """A new module (or a moved one) must be given a side of the boundary here."""
    found, listed = set(module_files()), set(MODULES)
    assert not found - listed, f"modules without a trust domain in MODULES: {sorted(found - listed)}"
    assert not listed - found, f"MODULES lists modules that do not exist: {sorted(listed - found)}"
    assert set(MODULES.values()) <= {SITE, CROSS, SHARED, SIMFED, JOBS}


def test_every_job_function_is_classified():
    """Jobs modules hold both sides: each of their functions is classified on its own."""
    files = module_files()
    found = {f"{m}.{f}" for m, kind in MODULES.items() if kind == JOBS for f in top_level_functions(files[m])}
    listed = set(JOB_FUNCTIONS)
    assert not found - listed, f"job functions without a trust domain: {sorted(found - listed)}"
    assert not listed - found, f"JOB_FUNCTIONS lists functions that do not exist: {sorted(listed - found)}"
    assert set(JOB_FUNCTIONS.values()) <= {SITE, CROSS, SHARED, SIMFED}


def cross_site_entries() -> list[Node]:
    """The start of every cross-site piece of code: each cross-site module as a whole,
    each cross-site job function on its own."""
    modules = [(m, "*") for m, kind in MODULES.items() if kind == CROSS]
    functions = [tuple(name.rsplit(".", 1)) for name, kind in JOB_FUNCTIONS.items() if kind == CROSS]
    return modules + functions


def entry_id(entry: Node) -> str:
    module, scope = entry
    return module if scope == "*" else f"{module}.{scope}"


# --------------------------------------------------------------------------------------
# 2. Statically: what cross-site code imports, transitively.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Import:
    """One import of fedheme code: where it is and the nodes it reaches."""

    scope: str | None  # the top-level def or class it sits in; None at module level
    line: int
    text: str
    targets: tuple[Node, ...]


def is_type_checking(test: ast.expr) -> bool:
    """``if TYPE_CHECKING:`` or ``if typing.TYPE_CHECKING:``."""
    name = test.id if isinstance(test, ast.Name) else test.attr if isinstance(test, ast.Attribute) else None
    return name == "TYPE_CHECKING"


def dynamic_import(node: ast.AST) -> str | None:
    """The module of ``importlib.import_module("...")`` or ``__import__("...")``, if constant."""
    if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
        return None
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    value = node.args[0].value
    return value if name in ("import_module", "__import__") and isinstance(value, str) else None


class ImportGraph:
    """Which fedheme code a piece of fedheme code can run, read statically with ``ast``.

    A node is ``(module, scope)``:

    * ``(m, "*")``: all of ``m``: its module-level imports and those inside every
      function, called or not (conservative); for a package with lazy exports
      (``fedheme._exports``) also every module it exports, as the package object gives
      access to all of them;
    * ``(m, "<init>")``: a parent package run on the way to one of its modules: its
      module-level imports only;
    * ``(m, f)``: function ``f`` of a ``jobs`` module: the module-level imports of ``m``,
      the imports inside ``f``, and the functions of ``m`` that ``f`` names.

    ``from a.b import n`` reaches the module ``a.b.n`` if there is one, else the module of
    the lazy export ``n`` of package ``a.b``, else function ``n`` of a jobs module, else all
    of ``a.b``. Relative imports are resolved; ``importlib.import_module("fedheme...")``
    with a constant name counts; imports under ``if TYPE_CHECKING:`` never run: skipped.
    """

    def __init__(
        self, src: Path = SRC, kinds: dict[str, str] = MODULES, sources: dict[str, str] | None = None
    ) -> None:
        """``src``: the folder holding ``fedheme``; ``kinds``: the trust domain of each
        module; ``sources``: module -> source text, replacing or adding to ``src``'s."""
        self.files = module_files(src)
        self.kinds = kinds
        self.sources = dict(sources or {})
        self._trees: dict[str, ast.Module] = {}
        self._imports: dict[str, list[Import]] = {}

    # -- reading modules -----------------------------------------------------------------

    def known(self, module: str) -> bool:
        return module in self.files or module in self.sources

    def text(self, module: str) -> str:
        return self.sources[module] if module in self.sources else self.files[module].read_text()

    def tree(self, module: str) -> ast.Module:
        if module not in self._trees:
            self._trees[module] = ast.parse(self.text(module))
        return self._trees[module]

    def is_package(self, module: str) -> bool:
        return module in self.files and self.files[module].name == "__init__.py"

    def lazy_exports(self, package: str) -> dict[str, str]:
        """Public name -> module, from a package's ``_EXPORTS`` table (none: empty)."""
        if not self.is_package(package):
            return {}
        for node in self.tree(package).body:
            if isinstance(node, ast.Assign) and [getattr(t, "id", "") for t in node.targets] == ["_EXPORTS"]:
                table = ast.literal_eval(node.value)
                return {name: f"{package}.{sub or name}" for name, sub in table.items()}
        return {}

    def functions(self, module: str) -> dict[str, ast.AST]:
        return {n.name: n for n in self.tree(module).body if isinstance(n, DEFS)}

    # -- resolving imports ---------------------------------------------------------------

    def _absolute(self, module: str | None, level: int, importer: str) -> str:
        if not level:
            return module or ""
        package = importer if self.is_package(importer) else importer.rpartition(".")[0]
        for _ in range(level - 1):
            package = package.rpartition(".")[0]
        return f"{package}.{module}" if module else package

    @staticmethod
    def _parents(module: str) -> list[Node]:
        parts = module.split(".")
        return [(".".join(parts[:i]), "<init>") for i in range(1, len(parts))]

    def _from_targets(self, base: str, name: str) -> list[Node]:
        """What ``from base import name`` reaches besides ``base``'s parents."""
        if name != "*" and self.known(f"{base}.{name}"):
            return [(f"{base}.{name}", "*")]
        if name in self.lazy_exports(base):
            return [(self.lazy_exports(base)[name], "*")]
        if self.kinds.get(base) == JOBS and self.known(base) and name in self.functions(base):
            return [(base, name)]
        return [(base, "*")]

    def imports(self, module: str) -> list[Import]:
        """Every import of fedheme code in ``module``, outside ``if TYPE_CHECKING:``."""
        if module in self._imports:
            return self._imports[module]
        found: list[Import] = []

        def add(node: ast.AST, scope: str | None, targets: list[Node]) -> None:
            targets = [t for t in targets if t[0] == "fedheme" or t[0].startswith("fedheme.")]
            if targets:
                text = ast.get_source_segment(self.text(module), node) or ast.unparse(node)
                found.append(Import(scope, node.lineno, " ".join(text.split()), tuple(targets)))

        def visit(node: ast.AST, scope: str | None) -> None:
            if isinstance(node, ast.If) and is_type_checking(node.test):
                for child in node.orelse:  # the TYPE_CHECKING branch never runs
                    visit(child, scope)
                return
            if isinstance(node, ast.Import):
                add(node, scope, [t for a in node.names for t in [*self._parents(a.name), (a.name, "*")]])
            elif isinstance(node, ast.ImportFrom):
                base = self._absolute(node.module, node.level, module)
                targets = self._parents(base) + ([(base, "<init>")] if self.is_package(base) else [])
                add(node, scope, targets + [t for a in node.names for t in self._from_targets(base, a.name)])
            elif dynamic_import(node):
                name = dynamic_import(node)
                add(node, scope, [*self._parents(name), (name, "*")])
            for child in ast.iter_child_nodes(node):
                visit(child, scope)

        for statement in self.tree(module).body:
            visit(statement, statement.name if isinstance(statement, (*DEFS, ast.ClassDef)) else None)
        self._imports[module] = found
        return found

    # -- the closure ---------------------------------------------------------------------

    def edges(self, node: Node) -> list[tuple[Node, Import | None]]:
        """The nodes one node reaches directly, each with the import that reaches it."""
        module, scope = node
        if not self.known(module):
            return []  # not code of the package (an import that would fail)
        runs = [imp for imp in self.imports(module) if scope == "*" or imp.scope in (None, scope)]
        out = [(target, imp) for imp in runs for target in imp.targets]
        if scope == "*":  # the package object: any of its lazy exports
            out += [((target, "*"), None) for target in sorted(set(self.lazy_exports(module).values()))]
        elif scope != "<init>":  # a job function: the module's functions it names
            named = {n.id for n in ast.walk(self.functions(module)[scope]) if isinstance(n, ast.Name)}
            out += [((module, f), None) for f in sorted(named & set(self.functions(module)) - {scope})]
        return out

    def closure(self, start: Node, stop=lambda node: False) -> dict[Node, tuple[Node, Import | None] | None]:
        """Every node reachable from ``start``, each with the (node, import) it was first
        reached by (breadth first: the shortest chain); nothing past a node where ``stop``."""
        parents: dict[Node, tuple[Node, Import | None] | None] = {start: None}
        queue = deque([start])
        while queue:
            node = queue.popleft()
            if node != start and stop(node):
                continue
            for target, imp in self.edges(node):
                if target not in parents:
                    parents[target] = (node, imp)
                    queue.append(target)
        return parents

    # -- verdicts ------------------------------------------------------------------------

    def kind_of(self, node: Node) -> str | None:
        module, scope = node
        if self.kinds.get(module) == JOBS and scope not in ("*", "<init>"):
            return JOB_FUNCTIONS.get(f"{module}.{scope}")
        return self.kinds.get(module)

    def forbidden(self, node: Node) -> str | None:
        """Why cross-site code may not reach ``node`` (None: it may)."""
        kind = self.kind_of(node)
        if kind in FORBIDDEN_ACROSS_SITES:
            return kind
        inside = [p for p in SITE_PACKAGES if node[0] == p or node[0].startswith(p + ".")]
        return f"inside {inside[0]}" if inside else None

    @staticmethod
    def label(node: Node) -> str:
        module, scope = node
        if scope in ("*", "<init>"):
            return module if scope == "*" else f"{module} (package __init__)"
        return f"{module}.{scope}()"

    def chain(self, parents: dict, node: Node) -> str:
        """The chain of imports from the start of a closure to ``node``, a step a line."""
        steps = []
        while parents[node] is not None:
            previous, imp = parents[node]
            how = f"line {imp.line}: {imp.text}" if imp else "named in the function"
            if imp is None and previous[0] != node[0]:
                how = "a lazy export of the package"
            steps.append(f"  -> {self.label(node)}    ({how})")
            node = previous
        return "\n".join([f"  {self.label(node)}", *reversed(steps)])

    def violations(self, start: Node) -> list[str]:
        """One message per import by which the cross-site ``start`` first reaches site-side
        code: what it reaches and the chain of imports leading there."""
        parents = self.closure(start, stop=self.forbidden)
        by_import: dict[tuple, list[Node]] = {}
        for node, parent in parents.items():
            if parent is not None and self.forbidden(node):
                by_import.setdefault((parent[0], parent[1] and parent[1].line), []).append(node)
        messages = []
        for nodes in by_import.values():
            nodes.sort(key=lambda n: (n[1] == "<init>", -len(n[0])))  # the module itself, then its packages
            reached = ", ".join(f"{self.label(n)} [{self.forbidden(n)}]" for n in nodes)
            chain = self.chain(parents, nodes[0])
            messages.append(f"cross-site {self.label(start)} reaches {reached}:\n{chain}")
        return messages


@pytest.fixture(scope="module")
def graph() -> ImportGraph:
    return ImportGraph()


@pytest.mark.parametrize("entry", cross_site_entries(), ids=entry_id)
def test_cross_site_code_imports_nothing_site_side(graph, entry):
    """Nothing a cross-site module or job imports, directly or through other fedheme
    modules, runs inside a site or in the simulated federation."""
    problems = graph.violations(entry)
    assert not problems, "\n\n".join(problems)


def test_the_import_closure_sees_through_modules_lazy_exports_and_jobs():
    """The closure itself, on synthetic cross-site modules: site-side code reached through
    a shared module's function, a lazy export, a relative import, a jobs function or
    ``importlib`` is found with its chain; an import under ``if TYPE_CHECKING:`` is not."""
    sources = {
        "fedheme.report.leaky": "from fedheme.io import read_json\nfrom fedheme.report.helper import f\n",
        "fedheme.report.helper": "def f():\n    from fedheme.data.splits import subset_rows\n",
        "fedheme.report.lazy": "from fedheme.evaluation import evaluate_site\n",
        "fedheme.report.relative": "from ..federated import client\n",
        "fedheme.report.jobcall": "from fedheme.jobs.train import train_fold_job\n",
        "fedheme.report.dynamic": "import importlib\nimportlib.import_module('fedheme.scores.mds')\n",
        "fedheme.report.typed": "import typing\nif typing.TYPE_CHECKING:\n    from fedheme.data import Issue",
    }
    graph = ImportGraph(kinds={**MODULES, **dict.fromkeys(sources, CROSS)}, sources=sources)
    assert graph.violations(("fedheme.report.leaky", "*")) == [
        (
            "cross-site fedheme.report.leaky reaches fedheme.data.splits [site], "
            "fedheme.data (package __init__) [site]:\n"
            "  fedheme.report.leaky\n"
            "  -> fedheme.report.helper    (line 2: from fedheme.report.helper import f)\n"
            "  -> fedheme.data.splits    (line 2: from fedheme.data.splits import subset_rows)"
        )
    ]
    reaches = {
        "lazy": "fedheme.evaluation.site [site]",
        "relative": "fedheme.federated.client [site]",
        "jobcall": "fedheme.jobs.train.train_fold_job() [simulated-federation]",
        "dynamic": "fedheme.scores.mds [site]",
    }
    for module, reached in reaches.items():
        assert reached in "\n".join(graph.violations((f"fedheme.report.{module}", "*"))), module
    assert graph.violations(("fedheme.report.typed", "*")) == []


# --------------------------------------------------------------------------------------
# 2b. Statically: no cross-site code spells a path into a private (or export) folder.
# --------------------------------------------------------------------------------------

#: A string naming a patient-level folder as a path component: "private", "a/private/b".
PATIENT_LEVEL_PATH = re.compile(r"(^|[/\\])(private|exports)([/\\]|$)")


def docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring constants of a module and of its classes and functions."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, *DEFS)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def private_path_strings(graph: ImportGraph, node: Node) -> list[str]:
    """String literals (not docstrings; comments are not in the tree) of a node's code
    that name a private or export folder."""
    module, scope = node
    tree = graph.tree(module)
    roots: list[ast.AST] = [tree]
    if scope not in ("*", "<init>"):  # a job function, and what its module runs on import
        roots = [graph.functions(module)[scope]]
        roots += [s for s in tree.body if not isinstance(s, (*DEFS, ast.ClassDef))]
    skip = docstrings(tree)
    return [
        f"{graph.label(node)} line {n.lineno}: {n.value!r}"
        for root in roots
        for n in ast.walk(root)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in skip
        and PATIENT_LEVEL_PATH.search(n.value)
    ]  # fmt: skip


@pytest.mark.parametrize("entry", cross_site_entries(), ids=entry_id)
def test_cross_site_code_spells_no_private_path(graph, entry):
    """No string literal of cross-site code, or of the shared code it imports, names a
    ``private/`` (or ``exports/``) folder; docstrings and comments may."""
    reached = [node for node in graph.closure(entry) if graph.known(node[0]) and not graph.forbidden(node)]
    found = [hit for node in reached for hit in private_path_strings(graph, node)]
    assert not found, f"cross-site {entry_id(entry)} spells patient-level paths:\n" + "\n".join(found)


def test_the_private_path_check_ignores_docstrings():
    source = (
        '"""Reads no private/ folder."""\n\n\ndef f():\n    """Nor this one: private/x."""\n'
        '    return "results/a/sites/b/private/p.parquet"  # private/ in a comment\n'
    )
    graph = ImportGraph(sources={"fedheme.report.synthetic": source})
    assert private_path_strings(graph, ("fedheme.report.synthetic", "*")) == [
        "fedheme.report.synthetic line 6: 'results/a/sites/b/private/p.parquet'"
    ]


# --------------------------------------------------------------------------------------
# 3. The workflow's plan: which job reads which folder.
# --------------------------------------------------------------------------------------

#: The one rule allowed to read several sites' private files (see fedheme.federated.fold).
SIMULATED_FEDERATION_RULES = {"train_fold"}
#: Rules that only name targets (no output, no code): they run nothing.
TARGET_RULES = {"all", "figures"}


@dataclass
class PlannedJob:
    """One job of a dry run: its rule and its ``key: value`` lines (input, output...)."""

    rule: str
    fields: dict[str, str]

    def paths(self, field: str) -> list[str]:
        return [p.strip() for p in self.fields.get(field, "").split(",") if p.strip()]

    @property
    def wildcards(self) -> dict[str, str]:
        return dict(w.strip().split("=", 1) for w in self.fields.get("wildcards", "").split(",") if "=" in w)

    def __str__(self) -> str:
        wildcards = ", ".join(f"{k}={v}" for k, v in self.wildcards.items())
        return f"rule {self.rule}" + (f" ({wildcards})" if wildcards else "")


def parse_plan(stdout: str) -> list[PlannedJob]:
    """The jobs of ``snakemake -n`` output: ``rule NAME:`` then indented ``key: value`` lines."""
    jobs, job = [], None
    for line in stdout.splitlines():
        start = re.match(r"^(?:local)?(?:rule|checkpoint) (\S+):$", line)
        field = re.match(r"^    (\w+): (.*)$", line)
        if start:
            job = PlannedJob(start.group(1), {})
            jobs.append(job)
        elif job is not None and field:
            job.fields[field.group(1)] = field.group(2)
        else:
            job = None
    return jobs


def plan(workdir: Path, *args: str) -> list[PlannedJob]:
    """The jobs of a whole run from scratch (``snakemake -n --forceall``) in ``workdir``."""
    command = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir), *args,
               "-n", "--forceall", "--cores", "1"]  # fmt: skip
    result = subprocess.run(command, check=False, capture_output=True, text=True, timeout=600, cwd=workdir)
    assert result.returncode == 0, f"dry run failed:\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
    jobs = parse_plan(result.stdout)
    assert jobs and all("output" in j.fields or j.rule in TARGET_RULES for j in jobs), result.stdout[-4000:]
    return jobs


def site_of(path: str) -> tuple[str, str] | None:
    """(disease, site) owning a per-site path (results/<d>/sites/<s>/..., results/<d>/exports/<s>/...,
    results/<d>/simulation/<s>.json), else None."""
    parts = Path(path).parts
    if len(parts) >= 4 and parts[0] == "results" and parts[2] in ("sites", "exports"):
        return parts[1], parts[3]
    if len(parts) == 4 and parts[0] == "results" and parts[2] == "simulation":
        return parts[1], Path(parts[3]).stem
    return None


def patient_level(path: str) -> tuple[str, str] | None:
    """(disease, site) of a path into a site's private folder or raw export, else None."""
    parts, owner = Path(path).parts, site_of(path)
    return owner if owner and (parts[2] == "exports" or parts[4:5] == ("private",)) else None


def side_of(job: PlannedJob) -> str:
    """The side of the boundary a planned job runs on, read from where it writes."""
    if job.rule in TARGET_RULES:
        return "target"
    if job.rule in SIMULATED_FEDERATION_RULES:
        return SIMFED
    owners = {site_of(p) for p in job.paths("output")}
    return SITE if None not in owners else CROSS if owners == {None} else "both"


def boundary_problems(jobs: list[PlannedJob]) -> list[str]:
    """Every job of a plan that reads (or writes) across the boundary, one message each."""
    from fedheme.folds import Fold

    problems = []
    for job in jobs:
        inputs, outputs, side = job.paths("input"), job.paths("output"), side_of(job)
        reads = [(path, patient_level(path)) for path in inputs]
        if side == "target" and outputs:
            problems.append(f"{job}: a target rule with outputs {outputs}")
        elif side == "both":
            problems.append(f"{job} writes both inside a site and across sites: {outputs}")
        elif side == SITE:  # one site's job: only its own site's patient-level files
            owners = {site_of(p) for p in outputs}
            if len(owners) > 1:
                problems.append(f"{job} writes into several sites: {sorted(owners)}")
            problems += [f"{job} of site {min(owners)[1]} reads another site's {path}"
                         for path, owner in reads if owner and owner not in owners]  # fmt: skip
        elif side == SIMFED:  # the training sites' private rows, never the held-out site's
            disease, held_out = job.wildcards.get("disease"), Fold.parse(job.wildcards["fold"]).held_out
            problems += [f"{job} reads {path}, patient-level data of a held-out site or another disease"
                         for path, owner in reads if owner and (owner[0] != disease or owner[1] == held_out)]  # fmt: skip
        elif side == CROSS:
            problems += [f"cross-site {job} reads the patient-level file {path}"
                         for path, owner in reads if owner or "private" in Path(path).parts]  # fmt: skip
    return problems


#: Configs planned: the small test config, the default one and the paper's grid.
PLANNED_CONFIGS = {"small": [SMALL_CONFIG], "default": [], "paper": ["config/paper.yaml"]}


@pytest.mark.parametrize("name", PLANNED_CONFIGS)
def test_no_cross_site_rule_reads_a_private_file(tmp_path, name):
    """In the plan of a whole run, a cross-site rule reads no private (or export) file; a
    site's job reads only its own site's; ``train_fold`` only its training sites'."""
    configs = [arg for c in PLANNED_CONFIGS[name] for arg in ("--configfile", str(ROOT / c))]
    jobs = plan(make_workdir(tmp_path / "work"), *configs)
    sides = {side_of(j) for j in jobs}
    assert {SITE, CROSS, SIMFED} <= sides and {"metrics_table", "site_overview"} <= {j.rule for j in jobs}
    problems = boundary_problems(jobs)
    assert not problems, "\n".join(problems)


def test_the_plan_check_catches_reads_across_the_boundary():
    """The check itself, on a synthetic plan."""

    def private(site: str, name: str = "patients") -> str:
        return f"results/mds/sites/site{site}/private/{name}.parquet"

    stdout = """
rule metrics_table:
    input: results/mds/sites/siteA/shared/os_metrics.tsv, results/mds/sites/siteA/private/scores.parquet
    output: results/tables/metrics.tsv

rule site_scores:
    input: results/mds/sites/siteB/private/patients.parquet
    output: results/mds/sites/siteA/private/scores.parquet
    wildcards: disease=mds, site=siteA

rule train_fold:
    input: results/mds/sites/siteA/private/patients.parquet, results/mds/sites/siteB/private/patients.parquet
    output: results/mds/training/os/loso-siteA/models.pt
    wildcards: disease=mds, endpoint=os, fold=loso-siteA
"""
    metrics, scores, train = boundary_problems(parse_plan(stdout))
    assert metrics == "cross-site rule metrics_table reads the patient-level file " + private("A", "scores")
    assert scores == f"rule site_scores (disease=mds, site=siteA) of site siteA reads another site's {private('B')}"  # fmt: skip
    assert train.startswith(f"rule train_fold (disease=mds, endpoint=os, fold=loso-siteA) reads {private('A')},")  # fmt: skip


# --------------------------------------------------------------------------------------
# 4. At run time: the cross-site jobs on a copy of a real run without its private folders.
# --------------------------------------------------------------------------------------

#: Folders of patient-level rows: left out of the released copy, refused by the audit hook.
PATIENT_LEVEL_DIRS = {"private", "exports"}
#: Audit events of reading a file or a folder.
WATCHED_EVENTS = {"open", "os.listdir", "os.scandir", "glob.glob"}

#: An audit hook cannot be removed: it acts only while GUARD is set, to (the folders it
#: watches, the pipeline's own workdir, the violations found so far).
GUARD: tuple[tuple[Path, ...], Path, list[str]] | None = None
_HOOK_INSTALLED = False


def _audit(event: str, args: tuple) -> None:
    if GUARD is None or event not in WATCHED_EVENTS or not isinstance(args[0], (str, bytes, os.PathLike)):
        return  # off, another event, or a file descriptor
    path = Path(os.path.abspath(os.fsdecode(args[0])))
    roots, workdir, violations = GUARD
    problem = None
    if path == workdir or workdir in path.parents:
        problem = f"{event} in the pipeline's own workdir, not the released copy: {path}"
    elif any(PATIENT_LEVEL_DIRS & set(path.relative_to(r).parts) for r in roots if r in path.parents):
        problem = f"{event} of a patient-level path: {path}"
    if problem:
        violations.append(problem)
        raise PermissionError(problem)


@pytest.fixture
def guarded(monkeypatch):
    """``activate(roots, workdir)``: from then on to the end of the test (or to
    ``monkeypatch.undo()``), site-side modules cannot be imported, and reading under a
    ``private/`` or ``exports/`` folder of ``roots``, or anything in ``workdir``, fails.
    Returns the list the violations are recorded in (even if a caller swallows the error).
    (pyarrow opens files in C++, unseen by the hook: hence also the copy without them.)"""
    global _HOOK_INSTALLED
    if not _HOOK_INSTALLED:
        sys.addaudithook(_audit)
        _HOOK_INSTALLED = True

    def activate(roots: tuple[Path, ...], workdir: Path) -> list[str]:
        blocked = [m for m, kind in MODULES.items() if kind in FORBIDDEN_ACROSS_SITES or m.startswith(SITE_PACKAGES)]  # fmt: skip
        for module in blocked:  # None in sys.modules: importing it raises ImportError
            monkeypatch.setitem(sys.modules, module, None)
            parent, _, name = module.rpartition(".")
            if sys.modules.get(parent) is not None and name in vars(sys.modules[parent]):
                monkeypatch.delattr(sys.modules[parent], name)  # nor ``from parent import name``
        violations: list[str] = []
        monkeypatch.setattr(sys.modules[__name__], "GUARD", (roots, workdir.resolve(), violations))
        return violations

    return activate


def copy_released(workdir: Path, target: Path) -> Path:
    """The results tree of a run without any private or export folder: what crosses sites."""
    ignore = shutil.ignore_patterns(*PATIENT_LEVEL_DIRS)
    shutil.copytree(workdir / "results", target / "results", ignore=ignore)
    return target


def figure_arguments(job: PlannedJob, config: dict) -> dict:
    """The arguments of a validation figure rule (``figure_params`` of common.smk)."""
    name = job.wildcards["disease"]
    disease = config["diseases"][name]
    endpoint = disease.get("train_endpoints", [disease.get("primary_endpoint")])[0]
    binary = disease.get("kind", "iwgpm") == "tabular" and disease["outcome"]["type"] == "binary"
    training = {**config["training"], **disease.get("training", {})}
    return {
        "figure": job.rule.removesuffix("_figure"), "table": job.paths("input")[0], "disease": name,
        "endpoint": endpoint, "binary": binary, "training": training, "evaluation": config["evaluation"],
        "figures": config["figures"], "min_cell_count": config["privacy"]["min_cell_count"],
    }  # fmt: skip


def cross_site_call(job: PlannedJob, config: dict):
    """(job function, its input arguments, output argument -> path) of a planned cross-site
    job, built as its rule and script build them."""
    from fedheme.jobs import audit, diagnosis, evaluate, figures, overview, train, treatment
    from fedheme.privacy.study import non_private_release_kinds
    from fedheme.report.catalogue import FIGURES

    inputs, outputs = job.paths("input"), job.paths("output")
    out, figure_out = {"out": outputs[0]}, dict(zip(("out_png", "out_pdf"), outputs))
    if job.rule == "site_overview":
        return overview.site_overview_job, {"aggregates": inputs}, out
    if job.rule == "site_heterogeneity_figure":
        arguments = {"aggregates": inputs, "min_cell_count": config["privacy"]["min_cell_count"]}
        return overview.heterogeneity_figure_job, arguments, figure_out
    if job.rule == "privacy_ledger":  # folds: training_output_keys() + evaluation_output_keys(),
        # read back from results/<d>/training/<endpoint>/<fold>/ledger.tsv and
        # results/<d>/sites/<site>/shared/evaluation/<endpoint>_<fold>_ledger.tsv
        keys = []
        for p in map(Path, inputs):
            if p.parts[2] == "training":
                keys.append({"disease": p.parts[1], "endpoint": p.parts[3], "fold": p.parts[4]})
            elif p.name == "transplant_by_ipssm_ledger.tsv":  # transplant_release_keys()
                keys.append({"disease": p.parts[1], "endpoint": "hsct", "fold": ""})
            else:
                endpoint, fold = p.name.removesuffix("_ledger.tsv").split("_", 1)
                keys.append({"disease": p.parts[1], "endpoint": endpoint, "fold": fold})
        return train.privacy_ledger_job, {"ledgers": inputs, "keys": keys}, out
    if job.rule == "study_budget":
        diseases = sorted(config["diseases"])
        audited = (config["privacy"].get("audit") or {}).get("diseases", [])
        kinds = {d: non_private_release_kinds(config["diseases"][d], exact_releases=True, audited=d in audited) for d in diseases}
        return train.study_budget_job, {"ledger": inputs[0], "non_private_releases": kinds, "planned": {}}, out
    if job.rule == "metrics_table":  # named inputs, flattened in the plan in this order
        named = {kind: [p for p in inputs if p.endswith(f"_{kind}.{ext}")]
                 for kind, ext in (("metrics", "tsv"), ("calibration", "tsv"), ("km", "tsv"))}  # fmt: skip
        named["study"] = next(p for p in inputs if p.endswith("privacy/study.tsv"))
        assert sum(len(v) for k, v in named.items() if k != "study") + 1 == len(inputs), inputs
        arguments = {**named, "confidence": config["evaluation"]["confidence"]}
        names = ("out_metrics", "out_summary", "out_calibration", "out_km")
        return evaluate.metrics_table_job, arguments, dict(zip(names, outputs))
    if job.rule == "convergence_table":  # keys: training_output_keys(), read back from
        # the paths results/<disease>/training/<endpoint>/<fold>/rounds.tsv
        parts = [Path(p).parts for p in inputs]
        keys = [{"disease": p[1], "endpoint": p[3], "fold": p[4]} for p in parts]
        return figures.convergence_table_job, {"rounds": inputs, "keys": keys}, out
    if job.rule in {f"{spec.name}_figure" for spec in FIGURES}:
        return figures.figure_job, figure_arguments(job, config), figure_out
    if job.rule == "transplant_tables":  # named inputs, flattened in the plan in this order
        arguments = {"validation": [p for p in inputs if p.endswith("_validation.tsv")], "rmst": [p for p in inputs if p.endswith("_rmst.tsv")],
                     "releases": [p for p in inputs if p.endswith(".json")], "models": next(p for p in inputs if p.endswith("models.pt")),
                     "transplant": config["diseases"][job.wildcards["disease"]]["treatment"]["transplant"],
                     "confidence": config["evaluation"]["confidence"]}  # fmt: skip
        assert sum(len(v) for k, v in arguments.items() if k in ("validation", "rmst", "releases")) + 1 == len(inputs), inputs
        names = ("out_validation", "out_rmst", "out_effects", "out_counts", "out_png", "out_pdf")
        return treatment.transplant_tables_job, arguments, dict(zip(names, outputs))
    if job.rule == "reclassification_table":
        names = ("out_table", "out_png", "out_pdf")
        return diagnosis.reclassification_table_job, {"releases": inputs}, dict(zip(names, outputs))
    if job.rule == "marrow_blast_tables":  # named inputs, flattened in the plan in this order
        arguments = {"metrics": [p for p in inputs if p.endswith("_metrics.tsv")], "calibration": [p for p in inputs if p.endswith("_calibration.tsv")],
                     "cuts": config["diseases"][job.wildcards["disease"]]["diagnosis"]["marrow_blasts"]["cuts"],
                     "confidence": config["evaluation"]["confidence"]}  # fmt: skip
        assert len(arguments["metrics"]) + len(arguments["calibration"]) == len(inputs), inputs
        names = ("out_metrics", "out_summary", "out_calibration", "out_png", "out_pdf")
        return diagnosis.marrow_tables_job, arguments, dict(zip(names, outputs))
    if job.rule == "privacy_audit":
        arguments = {"audits": [p for p in inputs if p.endswith("membership_canary.tsv")], "rocs": [p for p in inputs if p.endswith("roc.tsv")]}
        assert len(arguments["audits"]) + len(arguments["rocs"]) == len(inputs), inputs
        return audit.audit_table_job, arguments, dict(zip(("out_audit", "out_roc", "out_png", "out_pdf"), outputs))
    if job.rule == "report_context":
        names = ("out_config", "out_software")
        return figures.report_context_job, {"config": config}, dict(zip(names, outputs))
    if job.rule == "manifest":
        return figures.manifest_job, {"tables": inputs}, out
    raise AssertionError(f"no runtime check for the cross-site rule {job.rule}: add it to cross_site_call")


@pytest.fixture(scope="module")
def small_plan(tmp_path_factory) -> list[PlannedJob]:
    """The plan of the small test config (paths relative to the workdir, as in small_run)."""
    return plan(make_workdir(tmp_path_factory.mktemp("plan")), "--configfile", str(ROOT / SMALL_CONFIG))


def test_cross_site_jobs_rerun_on_released_files_only(small_run, small_plan, tmp_path, monkeypatch, guarded):
    """Every cross-site job of the plan, rerun in this process on a copy of the real run
    without any private or export folder (site-side modules unimportable, patient-level
    reads refused), writes byte for byte what the pipeline wrote."""
    config = yaml.safe_load((small_run / "results" / "report" / "config.yaml").read_text())  # the run's
    released = copy_released(small_run, tmp_path / "released")
    assert not [p for p in released.rglob("*") if PATIENT_LEVEL_DIRS & set(p.relative_to(released).parts)]
    crossing = [job for job in small_plan if side_of(job) == CROSS]
    expected = {"metrics_table", "site_overview", "site_heterogeneity_figure", "privacy_ledger",
                "convergence_table", "manifest", "report_context", "forest_cindex_figure", "transplant_tables",
                "reclassification_table", "marrow_blast_tables", "privacy_audit"}  # fmt: skip
    assert expected <= {j.rule for j in crossing}
    calls = [(job, *cross_site_call(job, config)) for job in crossing]
    out = tmp_path / "out"

    monkeypatch.chdir(released)  # the jobs get the rules' paths, relative to the workdir
    violations = guarded((released, out), small_run)
    for _job, function, inputs, outputs in calls:
        for path in outputs.values():
            (out / path).parent.mkdir(parents=True, exist_ok=True)
        function(**inputs, **{key: out / path for key, path in outputs.items()})
    monkeypatch.undo()  # guard off, site-side modules back, back to the original folder

    assert not violations, "\n".join(violations)
    different = [f"{job}: {path}" for job, _f, _i, outputs in calls for path in outputs.values()
                 if (out / path).read_bytes() != (small_run / path).read_bytes()]  # fmt: skip
    assert not different, "cross-site outputs differ from the pipeline's:\n" + "\n".join(different)


def test_the_guard_refuses_private_reads_and_site_side_imports(tmp_path, guarded):
    """The runtime guard itself: reading a private file or importing site code fails."""
    private = tmp_path / "results" / "mds" / "sites" / "siteA" / "private" / "patients.parquet"
    private.parent.mkdir(parents=True)
    private.write_text("rows")
    violations = guarded((tmp_path,), tmp_path / "elsewhere")
    with pytest.raises(PermissionError, match="patient-level path"):
        private.read_text()
    with pytest.raises(PermissionError, match="patient-level path"):
        list(private.parent.iterdir())
    with pytest.raises(ImportError):
        import fedheme.data.splits  # noqa: F401
    with pytest.raises(ImportError):
        from fedheme import data  # noqa: F401
    with pytest.raises(ImportError):
        from fedheme.evaluation import evaluate_site  # noqa: F401
    assert len(violations) == 2
