"""Helpers of the networked-federation tests: hospital node folders made from a real
pipeline run (each node gets a copy of its site's private folder, nothing else), run
files, and the in-process transport that calls the nodes directly."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import ROOT, SMALL_CONFIG

from fedheme.network.node import NodeSettings, SiteNode
from fedheme.network.study import NetworkRun

#: The fold trained over the network in the tests: siteA held out, three training sites.
FOLD, ENDPOINT, TRAINING_SITES = "loso-siteA", "os_nh", ["siteB", "siteC", "siteD"]
STUDY = [ROOT / "config" / "config.yaml", ROOT / SMALL_CONFIG]
SITE_SHEET = ROOT / "tests" / "fixtures" / "sites_small.tsv"


def _toml_list(paths) -> str:
    return "[" + ", ".join(f'"{p}"' for p in paths) + "]"


def node_folders(run_dir: Path, root: Path, sites=TRAINING_SITES) -> dict[str, Path]:
    """One folder per hospital: ``data`` (a copy of the site's private folder of the
    pipeline run), ``state`` and ``node.toml``; returns site -> its settings file."""
    out = {}
    for site in sites:
        folder = root / site
        shutil.copytree(run_dir / "results" / "mds" / "sites" / site / "private", folder / "data")
        text = (f'site = "{site}"\ndisease = "mds"\ndata = "data"\nstate = "state"\nstudy_config = {_toml_list(STUDY)}\n'
                f'site_sheet = "{SITE_SHEET}"\n')
        (folder / "node.toml").write_text(text)
        out[site] = folder / "node.toml"
    return out


def run_file(path: Path, runs: list[dict], *, sites=TRAINING_SITES, network: dict | None = None) -> Path:
    """A coordinator's run file training ``runs`` (strategy, epsilon, seed) of the test fold."""
    lines = [f"sites = {_toml_list(sites)}", f"study_config = {_toml_list(STUDY)}", f'site_sheet = "{SITE_SHEET}"', 'out = "out"', ""]
    for run in runs:
        epsilon = "inf" if run["epsilon"] == float("inf") else repr(float(run["epsilon"]))
        lines += ["[[run]]", 'disease = "mds"', f'endpoint = "{ENDPOINT}"', f'fold = "{FOLD}"',
                  f'strategy = "{run["strategy"]}"', f"epsilon = {epsilon}", f"seed = {run['seed']}", ""]  # fmt: skip
    if network:
        lines.append("[network]")
        tables = {k: v for k, v in network.items() if isinstance(v, dict)}
        lines += [f"{k} = {_toml_value(v)}" for k, v in network.items() if k not in tables]
        for name, table in tables.items():
            lines += ["", f"[network.{name}]"] + [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (str, Path)):
        return f'"{value}"'
    return repr(value)


class LocalTransport:
    """The nodes called in this process (what Flower carries between machines)."""

    def __init__(self, settings: dict[str, Path]):
        self.nodes = {site: SiteNode(NodeSettings.read(path)) for site, path in settings.items()}
        self.requests: list[tuple[str, str]] = []

    def ask(self, kind, requests):
        out = {}
        for site, (body, weights) in requests.items():
            self.requests.append((kind, site))
            run = NetworkRun.from_dict(body["run"])
            if kind == "release":
                out[site] = (self.nodes[site].release(run), None)
            else:
                new_weights, reply = self.nodes[site].train(run, body["stats"], weights, int(body["round"]))
                out[site] = (reply, new_weights)
        return out


def pipeline_run(bundle: dict, strategy: str, epsilon: str, seed: int) -> dict:
    """The pipeline's run of that strategy, epsilon label and seed in a bundle."""
    (run,) = [r for r in bundle["runs"] if (r["strategy"], r["epsilon"], r["seed"]) == (strategy, epsilon, seed)]
    return run


def max_difference(a: dict, b: dict) -> float:
    assert set(a) == set(b)
    return max(float((a[k] - b[k]).abs().max()) for k in a)


def federation_certificates(folder: Path, sites=TRAINING_SITES) -> dict:
    """A test federation's TLS and node keys, as a coordinator makes them with openssl and
    ssh-keygen (README): a CA, the SuperLink's certificate for 127.0.0.1 signed by it, and
    one ECDSA key pair per hospital (OpenSSH format). Returns their paths."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)

    def certificate(subject: str, key, issuer: str, issuer_key, *, ca: bool):
        builder = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
                   .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)])).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))  # fmt: skip
        if not ca:
            names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    def pem_key(key) -> bytes:
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())

    ca_key, server_key = ec.generate_private_key(ec.SECP384R1()), ec.generate_private_key(ec.SECP384R1())
    ca = certificate("fedheme test CA", ca_key, "fedheme test CA", ca_key, ca=True)
    server = certificate("127.0.0.1", server_key, "fedheme test CA", ca_key, ca=False)
    paths = {"ca": folder / "ca.pem", "certfile": folder / "server.pem", "keyfile": folder / "server.key"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["certfile"].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths["keyfile"].write_bytes(pem_key(server_key))
    paths["node_keys"] = {}
    for site in sites:
        key = ec.generate_private_key(ec.SECP384R1())
        private, public = folder / f"{site}_node_key", folder / f"{site}_node_key.pub"
        private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()))
        private.chmod(0o600)
        public.write_bytes(key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH))
        paths["node_keys"][site] = public
    return paths
