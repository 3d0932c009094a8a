"""fedheme: federated, differentially private prognostic models for haematological diseases.

Sub-packages by stage and trust domain (which code reads a site's patient rows):

* :mod:`fedheme.standard`: the data standard every site follows (public metadata);
* :mod:`fedheme.data`: inside a site: reading, checking, ingestion, QC and simulation of
  its patient rows, per disease kind (``iwgpm``, ``tabular``);
* :mod:`fedheme.scores`: clinical risk scores, computed inside a site;
* :mod:`fedheme.privacy`: DP mechanisms, accounting, the ledger, small-cell suppression;
* :mod:`fedheme.models`: time bins, loss, networks, Lightning modules, model bundles;
* :mod:`fedheme.federated`: a site's releases, design matrix and DP client; the server;
  one fold's training;
* :mod:`fedheme.evaluation`: metrics and bootstrap; a test site's evaluation; pooling;
* :mod:`fedheme.report`: figures and tables drawn from released files only;
* :mod:`fedheme.jobs`: the entry points of the workflow's rules.
"""

__version__ = "0.1.0"
