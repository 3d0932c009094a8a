"""The ``fedheme`` command line.

    fedheme validate-site EXPORT --dialect NAME [--variants FILE] [-o HARMONISED.parquet]
    fedheme score ipssm|ipssr|iss|riss|r2iss INPUT -o OUTPUT.tsv
    fedheme hsct PATIENT_FILE --model BUNDLE -o OUTPUT.tsv [--strategy S] [--epsilon E]
    fedheme blasts PATIENT_FILE --model BUNDLE -o OUTPUT.tsv [--strategy S] [--epsilon E]
    fedheme classify who2022|icc INPUT -o OUTPUT.tsv
    fedheme export-fhir SITE_DIR [-o BUNDLE.json]
    fedheme node --site SITE.toml --superlink HOST:PORT (--root-certificates CA.pem | --insecure)
    fedheme coordinate --config RUN.toml
    fedheme dialects
    fedheme data-dictionary [-o FILE]

Exit status: 0 valid, 1 invalid input (every problem printed with file, line and
column), 2 usage error.
"""

from __future__ import annotations

import argparse
import sys

from fedheme.data.iwgpm.dialects import DialectError, builtin_dialects, load_dialect


def _validate_site(args: argparse.Namespace) -> int:
    from fedheme.io import write_parquet
    from fedheme.data.issues import ExportValidationError
    from fedheme.data.iwgpm.validation import read_site_export

    try:
        dialect = load_dialect(args.dialect)
    except DialectError as err:
        print(f"fedheme: {err}", file=sys.stderr)
        return 2
    try:
        export = read_site_export(args.export, dialect, args.variants, max_errors=args.max_errors)
    except ExportValidationError as err:
        print(str(err), file=sys.stderr)
        return 1
    if args.output:
        write_parquet(args.output, export.patients.reset_index())
    print(
        f"{args.export}: valid {dialect.name} export, {len(export.patients)} patients, "
        f"{len(export.variants)} variants, {len(export.sequenced_genes)} genes sequenced"
    )
    return 0


def _score(args: argparse.Namespace) -> int:
    from fedheme.scores.inputs import score_file
    from fedheme.data.issues import ExportValidationError

    try:
        table = score_file(args.score, args.input, args.output, max_errors=args.max_errors)
    except ExportValidationError as err:
        print(str(err), file=sys.stderr)
        return 1
    scored = table.iloc[:, 1].notna().sum()
    print(f"{args.output}: {args.score} for {len(table)} patients ({scored} with a score)")
    absent = table.attrs.get("absent_inputs", [])
    if absent:
        print(f"note: {args.input} cannot inform these IPSS-M variables, imputed for every patient "
              f"(best and worst scenarios in the output):\n  " + "\n  ".join(absent), file=sys.stderr)  # fmt: skip
    return 0


def _model_command(args: argparse.Namespace, name: str, predict, statement: str, what) -> int:
    """A clinician's command under a model bundle (``fedheme hsct``, ``fedheme blasts``):
    ``predict`` checks the file, predicts and writes; exit 1 on an invalid file (its problems
    by line and column), 2 on a bundle that does not fit; ``what(table)`` says what was done."""
    from fedheme.data.issues import ExportValidationError

    try:
        table = predict(args.input, args.model, args.output, strategy=args.strategy, epsilon=args.epsilon, max_errors=args.max_errors)
    except ExportValidationError as err:
        print(str(err), file=sys.stderr)
        return 1
    except (ValueError, FileNotFoundError) as err:
        print(f"fedheme {name}: {err}", file=sys.stderr)
        return 2
    print(f"{args.output}: {what(table)} ({table['model'].iloc[0]}, {table['runs'].iloc[0]} runs)")
    print(statement)
    return 0


def _hsct(args: argparse.Namespace) -> int:
    from fedheme.treatment.clinic import STATEMENT, hsct_file

    return _model_command(args, "hsct", hsct_file, STATEMENT,
                          lambda t: f"expected RMST with and without transplant for {t['note'].eq('').sum()} of {len(t)} patients")  # fmt: skip


def _blasts(args: argparse.Namespace) -> int:
    from fedheme.diagnosis.clinic import STATEMENT, blasts_file

    return _model_command(args, "blasts", blasts_file, STATEMENT, lambda t: f"marrow blast category for {len(t)} patients")


def _classify(args: argparse.Namespace) -> int:
    import pandas as pd

    from fedheme.data.issues import ExportValidationError
    from fedheme.diagnosis.classification import classify
    from fedheme.io import write_tsv
    from fedheme.scores.inputs import read_score_input

    try:
        frame = read_score_input(args.input, None, args.max_errors).reset_index(drop=True)
    except ExportValidationError as err:
        print(str(err), file=sys.stderr)
        return 1
    labels = classify(frame, args.system)
    table = pd.concat([frame[["patient_id"]], labels], axis=1)
    write_tsv(args.output, table)
    label = table.columns[1]
    print(f"{args.output}: {args.system} for {len(table)} patients ({table[label].notna().sum()} classified; "
          f"the others say which missing input could change the label)")  # fmt: skip
    return 0


def _export_fhir(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from fedheme.diagnosis.fhir import private_folder, write_site_bundle

    try:
        path = write_site_bundle(args.site_dir, out=args.output)
    except FileNotFoundError as err:
        print(f"fedheme export-fhir: {err}", file=sys.stderr)
        return 2
    except ValidationError as err:
        print(f"fedheme export-fhir: a resource of {args.site_dir} is not valid FHIR:\n{err}", file=sys.stderr)
        return 1
    print(f"{path}: FHIR R4B collection bundle of {args.site_dir} (pseudonymous patient-level data)")
    if private_folder(args.site_dir).resolve() not in path.resolve().parents:
        print(f"note: {path} is outside the site's private folder; it holds patient-level data", file=sys.stderr)
    return 0


def _dialects(args: argparse.Namespace) -> int:
    for name in builtin_dialects():
        d = load_dialect(name)
        print(f"{name}\t{d.description}")
    return 0


def _data_dictionary(args: argparse.Namespace) -> int:
    from fedheme.io import write_tsv
    from fedheme.standard.mds import data_dictionary

    table = data_dictionary()
    if args.output:
        write_tsv(args.output, table)
    else:
        table.to_csv(sys.stdout, sep="\t", index=False)
    return 0


def _node(args: argparse.Namespace) -> int:
    """A hospital's Flower SuperNode for its site (run and supervised by this process)."""
    from pathlib import Path

    from fedheme.network.node import NodeError, NodeSettings, SiteNode
    from fedheme.network.processes import node_environment, supernode_command, supervise_supernode

    if args.root_certificates is None and not args.insecure:
        print("fedheme node: give --root-certificates (TLS) or --insecure (this machine's loopback only)", file=sys.stderr)
        return 2
    try:
        settings = NodeSettings.read(args.site)
        SiteNode(settings)  # its own study config must load and hold its disease
        command = supernode_command(args.superlink, site_config=Path(args.site), port=args.port,
                                    root_certificates=args.root_certificates, auth_key=args.auth_key)  # fmt: skip
    except (NodeError, ValueError, OSError) as err:
        print(f"fedheme node: {err}", file=sys.stderr)
        return 1
    print(f"fedheme node: site {settings.site} ({settings.disease}) joins {args.superlink}; data {settings.data}", flush=True)
    # Flower's files stay in the node's state folder; its ClientApp is the installed
    # fedheme's, never code the coordinator sends (fedheme.network.pinned_clientapp)
    return supervise_supernode(command, node_environment(settings.state))


def _coordinate(args: argparse.Namespace) -> int:
    """The coordinator: a SuperLink (unless one runs already) and the runs of a run file."""
    from fedheme.network.coordinator import CoordinationError, CoordinatorSettings
    from fedheme.network.processes import coordinate_federation

    try:
        settings = CoordinatorSettings.read(args.config)
        bundle = coordinate_federation(settings, args.config)
    except (CoordinationError, ValueError, KeyError, OSError, RuntimeError) as err:
        print(f"fedheme coordinate: {err}", file=sys.stderr)
        return 1
    print(f"fedheme coordinate: {len(settings.runs)} run(s) of {settings.runs[0].fold} trained over {len(settings.sites)} nodes: "
          f"{bundle}, {settings.out / 'ledger.tsv'}, {settings.out / 'rounds.tsv'}")  # fmt: skip
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fedheme", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate-site", help="check one site's export (the check the ingest rule runs)")
    p.add_argument("export", help="the site's patient table")
    p.add_argument("--dialect", required=True, help=f"one of {builtin_dialects()} or a dialect YAML path")
    p.add_argument("--variants", help="the site's variant table (one row per mutation)")
    p.add_argument("--max-errors", type=int, default=50, help="stop after this many problems (default 50)")
    p.add_argument("-o", "--output", help="write the harmonised table here (parquet) when valid")
    p.set_defaults(func=_validate_site)

    p = sub.add_parser("score", help="clinical risk score for every patient of a cohort file")
    p.add_argument("score", choices=["ipssm", "ipssr", "iss", "riss", "r2iss"])
    p.add_argument("input", help="cohort file (TSV, CSV or parquet) with harmonised column names")
    p.add_argument("-o", "--output", required=True, help="TSV to write: one row per patient")
    p.add_argument("--max-errors", type=int, default=50)
    p.set_defaults(func=_score)

    p = sub.add_parser("hsct", help="expected RMST with and without allogeneic transplant for each patient of a file")
    p.add_argument("input", help="patient file (TSV, CSV or parquet) with harmonised column names; age and IPSS-M inputs required")
    p.add_argument("--model", required=True, help="a transplant model bundle (results/mds/training/hsct/all/models.pt)")
    p.add_argument("-o", "--output", required=True, help="TSV to write: one row per patient")
    p.add_argument("--strategy", default="fedavg", help="which model of the bundle (default fedavg; pooled, local)")
    p.add_argument("--epsilon", help="its epsilon as labelled in the bundle ('3', 'inf'; default: the smallest)")
    p.add_argument("--max-errors", type=int, default=50)
    p.set_defaults(func=_hsct)

    p = sub.add_parser("blasts", help="the marrow blast category from blood, for each patient of a file")
    p.add_argument("input", help="patient file (TSV, CSV or parquet) with harmonised column names; age, Hb, platelets, peripheral blasts required")
    p.add_argument("--model", required=True, help="a marrow-blast classifier bundle (results/mds/training/marrow_blasts/all/models.pt)")
    p.add_argument("-o", "--output", required=True, help="TSV to write: one row per patient")
    p.add_argument("--strategy", default="fedavg", help="which model of the bundle (default fedavg; pooled, sklearn)")
    p.add_argument("--epsilon", help="its epsilon as labelled in the bundle ('3', 'inf'; default: the smallest)")
    p.add_argument("--max-errors", type=int, default=50)
    p.set_defaults(func=_blasts)

    p = sub.add_parser("classify", help="WHO 2022 or ICC 2022 classification of every patient of a cohort file")
    p.add_argument("system", choices=["who2022", "icc"])
    p.add_argument("input", help="cohort file (TSV, CSV or parquet) with harmonised column names")
    p.add_argument("-o", "--output", required=True, help="TSV to write: label and reason per patient")
    p.add_argument("--max-errors", type=int, default=50)
    p.set_defaults(func=_classify)

    p = sub.add_parser("export-fhir", help="a site's harmonised MDS data as an HL7 FHIR R4B bundle (JSON)")
    p.add_argument("site_dir", help="the site's private folder (results/mds/sites/SITE/private) or the site folder above it")
    p.add_argument("-o", "--output", help="JSON file to write (default: fhir_bundle.json in the site's private folder)")
    p.set_defaults(func=_export_fhir)

    p = sub.add_parser("node", help="join a networked federation as a hospital: a Flower SuperNode for one site")
    p.add_argument("--site", required=True, help="the node's settings (TOML: site, disease, data, state, study_config)")
    p.add_argument("--superlink", required=True, help="the coordinator's SuperLink, HOST:PORT")
    p.add_argument("--root-certificates", help="the federation's CA certificate (PEM): TLS to the SuperLink")
    p.add_argument("--insecure", action="store_true", help="no TLS: only with a SuperLink on this machine's loopback")
    p.add_argument("--auth-key", help="the node's private key (node authentication; its public key registered by the coordinator)")
    p.add_argument("--port", type=int, default=9094, help="the SuperNode's local Runtime API port (default 9094)")
    p.set_defaults(func=_node)

    p = sub.add_parser("coordinate", help="coordinate a networked federation: SuperLink and the runs of a run file")
    p.add_argument("--config", required=True, help="the run file (TOML: [[run]], sites, study_config, out, [network])")
    p.set_defaults(func=_coordinate)

    p = sub.add_parser("dialects", help="list the built-in export dialects")
    p.set_defaults(func=_dialects)

    p = sub.add_parser("data-dictionary", help="print or write the harmonised data dictionary")
    p.add_argument("-o", "--output", help="TSV file to write (default: standard output)")
    p.set_defaults(func=_data_dictionary)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
