"""nbgrader's check of the cells' grading metadata, with its JSON schema compiled once per process.

nbgrader's ``CheckCellMetadata`` runs twice in every autograde (after the graded cells are
restored from the gradebook, and last) and checks each cell's ``nbgrader`` metadata with
``jsonschema.validate``. That function first checks the schema itself against JSON Schema's
metaschema, on every call: for assignment 1's 29 graded cells, about 0.1 s of each submission's
grading went to checking the same schema 58 times. ``CheckCellMetadata`` here checks the schema
once and keeps its validator; every check of the cells is nbgrader's own.
"""

from __future__ import annotations

import traceback

import jsonschema
from nbformat import NotebookNode
from nbgrader import preprocessors
from nbgrader.nbgraderformat import MetadataValidator as NbgraderMetadataValidator
from nbgrader.nbgraderformat import SchemaTooNewError, SchemaTooOldError, ValidationError
from nbgrader.nbgraderformat.common import BaseMetadataValidator


_VALIDATORS: dict[int, jsonschema.protocols.Validator] = {}
"""{nbgrader schema version: the validator of its schema}, made on first use."""


class _SchemaCheckedOnce(BaseMetadataValidator):
    """nbgrader's per-cell check of the schema version and of the schema, minus the re-check of
    the schema itself; it stands where ``BaseMetadataValidator.validate_cell`` is in the MRO."""

    def validate_cell(self, cell: NotebookNode) -> None:
        if "nbgrader" not in cell.metadata:
            return
        meta = cell.metadata["nbgrader"]
        version, expected = meta.get("schema_version", 0), self.schema_version
        if version < expected:
            raise SchemaTooOldError(f"Outdated schema version: {version} (expected {expected})",
                                    version, expected)
        if version > expected:
            raise SchemaTooNewError(f"Schema version is too new: {version} (expected {expected})",
                                    version, expected)
        error = jsonschema.exceptions.best_match(self._schema_validator().iter_errors(meta))
        if error is not None:
            raise error

    def _schema_validator(self) -> jsonschema.protocols.Validator:
        validator = _VALIDATORS.get(self.schema_version)
        if validator is None:
            validator_class = jsonschema.validators.validator_for(self.schema)
            validator_class.check_schema(self.schema)
            validator = _VALIDATORS[self.schema_version] = validator_class(self.schema)
        return validator


class MetadataValidator(NbgraderMetadataValidator, _SchemaCheckedOnce):
    """nbgrader's current metadata validator (its checks of grade ids, points and cell types run
    after ``_SchemaCheckedOnce.validate_cell``)."""


class CheckCellMetadata(preprocessors.CheckCellMetadata):
    """nbgrader's ``CheckCellMetadata`` with ``MetadataValidator``: the same checks and errors."""

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        try:
            MetadataValidator().validate_nb(nb)
        except ValidationError:
            self.log.error(traceback.format_exc())
            message = "Notebook failed to validate; the nbgrader metadata may be corrupted."
            self.log.error(message)
            raise ValidationError(message) from None
        return nb, resources
