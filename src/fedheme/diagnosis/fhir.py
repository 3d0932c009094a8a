"""One site's harmonised MDS data as an HL7 FHIR bundle, and the bundle read back into tables.

The export is for the site's own systems (a clinical data warehouse, a registry feed); it is
patient-level and pseudonymous: a :class:`Patient` carries the site's patient id as its
identifier and its administrative gender, never a name or a date. It is written into the site's
``private/`` folder unless told otherwise.

FHIR version: ``fhir.resources`` 8 defaults to FHIR R5 and ships no plain R4 package; its
``fhir.resources.R4B`` models (FHIR 4.3.0) are used. R4B changed the medication-definition and
subscription resources; Bundle, Patient, Observation and Condition, all this module writes, are
as in R4, so an R4 server should read the bundle (not tested against one here).
Every resource is built through these pydantic models, which validate on construction.

Per patient, in a ``collection`` Bundle (``urn:uuid`` full URLs, deterministic: the same site
data give the same file):

* ``Patient``: identifier (system ``https://fedheme.org/fhir/sid/<site>/patient-id``), gender.
* ``Observation`` per present value (a missing value gives no Observation): age at diagnosis
  (LOINC 21612-7 "Age - Reported", UCUM ``a``), the blood counts and blast / ring sideroblast
  percentages of :data:`LABS` (UCUM units), the karyotype (LOINC 62356-1, ``valueString``, as
  reported: not checked against ISCN). Every ``code`` also carries the harmonised column name in
  :data:`VARIABLE_SYSTEM`, which is what :func:`read_site_bundle` reads back; where no LOINC code
  was verified (bone marrow blasts, ring sideroblasts) that local code is the only coding.
* ``Condition`` per classification label present: WHO 2016 (site-reported), and WHO 2022 and
  ICC 2022 (derived by :mod:`fedheme.diagnosis.classification`, ``verificationStatus``
  provisional, the rule's reason as a note). No official code system exists for these labels:
  they are coded in fedheme's own systems (:data:`CLASSIFICATION_SYSTEMS`).
* ``Observation`` per variant, genomics-reporting style: LOINC 69548-6 "Genetic variant
  assessment" = Present, component 48018-6 "Gene studied" (the gene as recorded as text, and an
  HGNC coding with the current symbol as display but no code: the HGNC ids are not in the
  harmonised data, and a symbol is not a valid code of that system), 81258-6 "Sample variant
  allelic frequency" as a fraction (UCUM ``1``, as the HL7 Genomics Reporting IG does), 48005-3
  "Amino acid change" as text.

Not exported: follow-up and treatments, the 0/1 mutation and copy-number columns (a gene's
wild-type status is lost: only its variants are listed), the IPSS-R cytogenetic category, a
variant's genomic position, alleles and depth (the reference assembly is not recorded), and the
reason given for a patient WHO 2022 or ICC 2022 could not classify (no Condition without a label).
"""

from __future__ import annotations

import logging
import math
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pandas as pd
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.condition import Condition
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient

from fedheme.io import write_text
from fedheme.standard.mds_catalogue import HGNC_RENAMED

log = logging.getLogger(__name__)

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
HGNC = "http://www.genenames.org/geneId"
#: fedheme's own code system: the harmonised column names of :mod:`fedheme.standard.mds`.
VARIABLE_SYSTEM = "https://fedheme.org/fhir/CodeSystem/mds-variable"
#: Classification column -> (code system of its labels, title). No official system exists.
CLASSIFICATION_SYSTEMS = {
    "who_2016": ("https://fedheme.org/fhir/CodeSystem/who2016", "WHO 2016"),
    "who2022": ("https://fedheme.org/fhir/CodeSystem/who2022", "WHO 2022"),
    "icc2022": ("https://fedheme.org/fhir/CodeSystem/icc2022", "ICC 2022"),
}
#: Labels derived by fedheme's rules (not a clinician's diagnosis), with their reason column.
DERIVED_LABELS = {"who2022": "who2022_reason", "icc2022": "icc2022_reason"}

PATIENTS_FILE = "patients.parquet"
VARIANTS_FILE = "variants.parquet"
CLASSIFICATION_FILE = "classification.parquet"
DEFAULT_BUNDLE = "fhir_bundle.json"

_NAMESPACE = uuid.UUID("5b0f7a9e-2f43-4c55-9a57-8d2f7c1e6a10")  # fixed: full URLs are reproducible
_GENDER = {"M": "male", "F": "female"}
_SEX = {v: k for k, v in _GENDER.items()}


@dataclass(frozen=True)
class Measure:
    """A numeric harmonised column exported as an Observation with a valueQuantity."""

    column: str
    label: str
    unit: str  # UCUM code
    loinc: str = ""  # '' where no LOINC code was verified: the local code alone
    loinc_display: str = ""
    category: str = "laboratory"


AGE = Measure("age", "Age at diagnosis", "a", "21612-7", "Age - Reported", category="")
LABS: tuple[Measure, ...] = (
    Measure("hb_g_dl", "Haemoglobin", "g/dL", "718-7", "Hemoglobin [Mass/volume] in Blood"),
    Measure("plt_1e9_l", "Platelets", "10*9/L", "777-3", "Platelets [#/volume] in Blood by Automated count"),
    Measure("anc_1e9_l", "Absolute neutrophil count", "10*9/L", "751-8", "Neutrophils [#/volume] in Blood by Automated count"),
    Measure("wbc_1e9_l", "White blood cells", "10*9/L", "6690-2", "Leukocytes [#/volume] in Blood by Automated count"),
    Measure("monocytes_1e9_l", "Monocytes", "10*9/L", "742-7", "Monocytes [#/volume] in Blood by Automated count"),
    Measure("pb_blast_pct", "Peripheral blood blasts", "%", "26446-5", "Blasts/100 leukocytes in Blood"),
    Measure("bm_blast_pct", "Bone marrow blasts", "%"),
    Measure("ringed_sideroblasts_pct", "Ring sideroblasts", "%"),
)  # fmt: skip
KARYOTYPE_LOINC = ("62356-1", "Chromosome analysis result in ISCN expression")
VARIANT_LOINC = ("69548-6", "Genetic variant assessment")
GENE_STUDIED = ("48018-6", "Gene studied [ID]")
ALLELE_FREQUENCY = ("81258-6", "Sample variant allelic frequency [NFr]")
AMINO_ACID_CHANGE = ("48005-3", "Amino acid change (pHGVS)")
PRESENT = ("LA9633-4", "Present")

PATIENT_COLUMNS = (
    "patient_id", "sex", AGE.column, *(m.column for m in LABS), "karyotype",
    "who_2016", "who2022", "who2022_reason", "icc2022", "icc2022_reason",
)  # fmt: skip
VARIANT_COLUMNS = ("patient_id", "gene", "vaf", "protein_change")


def private_folder(site_dir: str | Path) -> Path:
    """The folder holding the site's harmonised files: ``site_dir`` itself, or its ``private/``."""
    site_dir = Path(site_dir)
    if not (site_dir / PATIENTS_FILE).exists() and (site_dir / "private" / PATIENTS_FILE).exists():
        return site_dir / "private"
    return site_dir


def _present(value) -> bool:
    if value is None or value is pd.NA:
        return False
    if isinstance(value, str):
        return bool(value.strip())
    return not (isinstance(value, float) and math.isnan(value))


def _category(code: str) -> list[dict]:
    system = "http://terminology.hl7.org/CodeSystem/observation-category"
    return [{"coding": [{"system": system, "code": code}]}] if code else []


def _code(column: str, label: str, loinc: str = "", display: str = "") -> dict:
    coding = [{"system": LOINC, "code": loinc, "display": display}] if loinc else []
    coding.append({"system": VARIABLE_SYSTEM, "code": column, "display": label})
    return {"coding": coding, "text": label}


def _quantity(value: float, unit: str) -> dict:
    return {"value": float(value), "unit": unit, "system": UCUM, "code": unit}


class _Builder:
    """Collects the entries of one bundle with reproducible ``urn:uuid`` full URLs."""

    def __init__(self, site: str) -> None:
        self.site = site
        self.entries: list[dict] = []

    def add(self, resource, *key: str) -> str:
        url = f"urn:uuid:{uuid.uuid5(_NAMESPACE, '|'.join((self.site, *key)))}"
        self.entries.append({"fullUrl": url, "resource": resource})
        return url


def _patient_entries(b: _Builder, row: dict, identifier_system: str) -> dict:
    """Add the patient's Patient, Observations and Conditions; return the reference to the Patient."""
    pid = str(row["patient_id"])
    patient = Patient(
        identifier=[{"system": identifier_system, "value": pid}],
        gender=_GENDER.get(row.get("sex"), "unknown") if _present(row.get("sex")) else None,
    )
    subject = {"reference": b.add(patient, pid, "Patient")}
    for m in (AGE, *LABS):
        value = row.get(m.column)
        if _present(value):
            obs = Observation(
                status="final", category=_category(m.category) or None, code=_code(m.column, m.label, m.loinc, m.loinc_display),
                subject=subject, valueQuantity=_quantity(value, m.unit),
            )  # fmt: skip
            b.add(obs, pid, m.column)
    if _present(row.get("karyotype")):
        obs = Observation(
            status="final", category=_category("laboratory"), code=_code("karyotype", "Karyotype", *KARYOTYPE_LOINC),
            subject=subject, valueString=str(row["karyotype"]),
        )  # fmt: skip
        b.add(obs, pid, "karyotype")
    for column, (system, title) in CLASSIFICATION_SYSTEMS.items():
        label = row.get(column)
        if not _present(label):
            continue
        reason = row.get(DERIVED_LABELS.get(column, ""))
        condition = Condition(
            code={"coding": [{"system": system, "code": str(label), "display": str(label)}], "text": f"{title}: {label}"},
            subject=subject,
            verificationStatus=(
                {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "provisional"}]}
                if column in DERIVED_LABELS else None
            ),
            note=[{"text": str(reason)}] if column in DERIVED_LABELS and _present(reason) else None,
        )  # fmt: skip
        b.add(condition, pid, column)
    return subject


def _variant_observation(variant: dict, subject: dict) -> Observation:
    gene = str(variant["gene"])
    components: list[dict] = [{
        "code": {"coding": [{"system": LOINC, "code": GENE_STUDIED[0], "display": GENE_STUDIED[1]}]},
        "valueCodeableConcept": {"coding": [{"system": HGNC, "display": HGNC_RENAMED.get(gene, gene)}], "text": gene},
    }]  # fmt: skip
    if _present(variant.get("vaf")):
        components.append({
            "code": {"coding": [{"system": LOINC, "code": ALLELE_FREQUENCY[0], "display": ALLELE_FREQUENCY[1]}]},
            "valueQuantity": {"value": float(variant["vaf"]), "unit": "relative frequency", "system": UCUM, "code": "1"},
        })  # fmt: skip
    if _present(variant.get("protein_change")):
        components.append({
            "code": {"coding": [{"system": LOINC, "code": AMINO_ACID_CHANGE[0], "display": AMINO_ACID_CHANGE[1]}]},
            "valueCodeableConcept": {"text": str(variant["protein_change"])},
        })  # fmt: skip
    return Observation(
        status="final",
        category=[*_category("laboratory"), {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "GE"}]}],
        code={"coding": [{"system": LOINC, "code": VARIANT_LOINC[0], "display": VARIANT_LOINC[1]}]},
        subject=subject,
        valueCodeableConcept={"coding": [{"system": LOINC, "code": PRESENT[0], "display": PRESENT[1]}]},
        component=components,
    )


def _read_site(private_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    for name in (PATIENTS_FILE, VARIANTS_FILE):
        if not (private_dir / name).is_file():
            raise FileNotFoundError(f"{private_dir / name}: no such file (export-fhir needs the site's harmonised {name})")
    patients = pd.read_parquet(private_dir / PATIENTS_FILE)
    variants = pd.read_parquet(private_dir / VARIANTS_FILE)
    labels_path = private_dir / CLASSIFICATION_FILE
    if labels_path.is_file():
        labels = pd.read_parquet(labels_path)
        keep = ["patient_id", *[c for c in labels.columns if c in ("who2022", "who2022_reason", "icc2022", "icc2022_reason")]]
        patients = patients.drop(columns=[c for c in keep[1:] if c in patients.columns]).merge(
            labels[keep], on="patient_id", how="left", validate="one_to_one"
        )
    return patients, variants


def site_bundle(private_dir: str | Path) -> Bundle:
    """A FHIR R4B ``collection`` Bundle of one site's harmonised MDS data (module docstring).

    ``private_dir`` holds ``patients.parquet`` and ``variants.parquet`` (both required) and, when
    the diagnosis stage ran, ``classification.parquet`` (WHO 2022 / ICC 2022 labels); the site
    folder above it is accepted too. The site's name is the folder above ``private/``.
    Variants of patients absent from ``patients.parquet`` are left out (counted in the log).
    """
    private_dir = private_folder(private_dir)
    patients, variants = _read_site(private_dir)
    site = private_dir.parent.name if private_dir.name == "private" else private_dir.name
    b = _Builder(site)
    identifier_system = f"https://fedheme.org/fhir/sid/{quote(site, safe='')}/patient-id"
    subjects = {str(row["patient_id"]): _patient_entries(b, row, identifier_system) for row in patients.to_dict("records")}
    orphans = 0
    for i, variant in enumerate(variants.to_dict("records")):
        pid = str(variant["patient_id"])
        if pid not in subjects:
            orphans += 1
            continue
        b.add(_variant_observation(variant, subjects[pid]), pid, "variant", str(i))
    if orphans:
        log.warning("%d variants of patients absent from %s left out of the FHIR bundle", orphans, PATIENTS_FILE)
    return Bundle(type="collection", entry=b.entries)


def write_site_bundle(private_dir: str | Path, *, out: str | Path | None = None) -> Path:
    """Write :func:`site_bundle` as JSON, atomically; by default to ``<private_dir>/fhir_bundle.json``
    (patient-level data stay in the private folder). Nothing is written when the site's files are
    missing or a resource fails validation. Returns the path written."""
    private_dir = private_folder(private_dir)
    bundle = site_bundle(private_dir)
    path = Path(out) if out is not None else private_dir / DEFAULT_BUNDLE
    write_text(path, bundle.model_dump_json(indent=2) + "\n")
    return path


def _variable_code(concept) -> str | None:
    for coding in (concept.coding or []) if concept is not None else []:
        if coding.system == VARIABLE_SYSTEM:
            return coding.code
    return None


def _loinc(concept) -> str | None:
    for coding in (concept.coding or []) if concept is not None else []:
        if coding.system == LOINC:
            return coding.code
    return None


def read_site_bundle(path: str | Path) -> dict[str, pd.DataFrame]:
    """Parse a bundle written by :func:`write_site_bundle` (validated by the R4B models) back into
    ``{"patients": ..., "variants": ...}`` frames with the columns :data:`PATIENT_COLUMNS` and
    :data:`VARIANT_COLUMNS`; values that were not exported are missing."""
    bundle = Bundle.model_validate_json(Path(path).read_text(encoding="utf-8"))
    rows: dict[str, dict] = {}  # full URL -> patient row, in bundle order
    variants: list[dict] = []
    by_system = {system: column for column, (system, _) in CLASSIFICATION_SYSTEMS.items()}
    for entry in bundle.entry or []:
        resource = entry.resource
        if isinstance(resource, Patient):
            rows[entry.fullUrl] = {"patient_id": resource.identifier[0].value, "sex": _SEX.get(resource.gender)}
            continue
        row = rows[resource.subject.reference]
        if isinstance(resource, Condition):
            coding = resource.code.coding[0]
            column = by_system[coding.system]
            row[column] = coding.code
            if column in DERIVED_LABELS and resource.note:
                row[DERIVED_LABELS[column]] = resource.note[0].text
        elif isinstance(resource, Observation) and _loinc(resource.code) == VARIANT_LOINC[0]:
            variant = {"patient_id": row["patient_id"]}
            for comp in resource.component or []:
                code = _loinc(comp.code)
                if code == GENE_STUDIED[0]:
                    variant["gene"] = comp.valueCodeableConcept.text
                elif code == ALLELE_FREQUENCY[0]:
                    variant["vaf"] = float(comp.valueQuantity.value)
                elif code == AMINO_ACID_CHANGE[0]:
                    variant["protein_change"] = comp.valueCodeableConcept.text
            variants.append(variant)
        elif isinstance(resource, Observation):
            column = _variable_code(resource.code)
            if column in PATIENT_COLUMNS:
                row[column] = resource.valueString if resource.valueQuantity is None else float(resource.valueQuantity.value)
    patients = pd.DataFrame(list(rows.values()), columns=list(PATIENT_COLUMNS))
    numeric = [AGE.column, *(m.column for m in LABS)]
    patients[numeric] = patients[numeric].astype("float64")
    frame = pd.DataFrame(variants, columns=list(VARIANT_COLUMNS)).astype({"vaf": "float64"})
    return {"patients": patients, "variants": frame}
