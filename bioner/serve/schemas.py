"""Request and response bodies of the HTTP API (pydantic models; they make the OpenAPI docs).

Types are checked strictly (``"0.5"`` is not a threshold, ``"true"`` not a flag) and
unknown fields are refused, so a misspelt option (``treshold``) is an error rather than
silently ignored. Limits that depend on the server's settings (texts per request,
characters per text) are checked by the endpoint, which names the limit.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class DocumentIn(_Strict):
    """A text with the caller's id, echoed in the result."""

    id: str = Field(description="Any string; echoed back with the entities.")
    text: str


class ExtractRequest(_Strict):
    """Give exactly one of ``text``, ``texts`` or ``documents``."""

    model_config = ConfigDict(
        extra="forbid", strict=True,
        json_schema_extra={"examples": [
            {"text": "BRCA1 mutations raise the risk of breast cancer in women."},
            {"texts": ["Cisplatin caused nephrotoxicity in rats.", "IL-2 activates T cells."], "labels": ["disease", "chemical"]},
            {"documents": [{"id": "PMID:1", "text": "Aspirin-induced asthma."}], "labels": {"Disease": "disease", "Chemical": "chemical compound or drug"},
             "threshold": 0.4, "flat": False},
        ]},
    )

    text: str | None = Field(None, description="One text.")
    texts: list[str] | None = Field(None, description="Several texts; results come back in the same order.")
    documents: list[DocumentIn] | None = Field(None, description="Several texts with ids.")
    labels: list[str] | dict[str, str] | None = Field(
        None, description="Entity types to find: a list of types (each is the label and the prompt the model sees), or a mapping "
                          "label -> natural-language prompt. Default: the model's default labels (GET /models).")
    threshold: float | None = Field(None, ge=0.0, le=1.0, description="Minimum span probability (span engine). Default: the model's own.")
    flat: bool | None = Field(None, description="true (default): no overlapping entities; false: keep entities nested inside others (span engine).")
    multi_label: bool | None = Field(None, description="Let one span carry several labels (span engine).")
    per_label: bool | None = Field(None, description="Score each label in a prompt of its own (span engine). Default: off for one corpus's own label set, on otherwise (as bioner extract).")
    abbreviations: bool | None = Field(None, description="true (default): every use of an abbreviation a text defines gets the type of its "
                                                         "long form (\"myocardial infarction (MI)\" found as a disease makes each \"MI\" one); false: off.")
    model: str | None = Field(None, description="A loaded model's name (GET /models). Default: the first loaded model of the engine.")
    engine: str | None = Field(None, description="span (GLiNER span model) or llm (a causal LM writes the entities; when the server loaded one). "
                                                 "Default: the named model's engine, else span.")
    scheme: str | None = Field(None, description="With engine llm: json or tags; must be the loaded LLM's scheme.")
    adapter: str | None = Field(None, description="With engine llm: the loaded adapter's folder name, to make sure it is the one answering.")


class EntityOut(BaseModel):
    start: int = Field(description="Character offset of the first character (0-based).")
    end: int = Field(description="Character offset after the last character: text[start:end] is the mention.")
    text: str = Field(description="The mention as it appears in the text.")
    label: str
    score: float | None = Field(None, description="The model's probability (span engine); null for the LLM engine.")
    fragments: list[tuple[int, int]] | None = Field(None, description="Parts of a discontinuous mention; null for a continuous one.")


class ResultOut(BaseModel):
    index: int = Field(description="Position of the text in the request.")
    id: str | None = Field(None, description="The document's id, when documents were given.")
    entities: list[EntityOut]


class ExtractResponse(BaseModel):
    model: str
    engine: str
    labels: dict[str, str] = Field(description="Label -> prompt actually used.")
    threshold: float | None
    flat: bool
    abbreviations: bool = Field(description="Whether types were propagated across the texts' abbreviations.")
    results: list[ResultOut]


class ErrorDetail(BaseModel):
    code: str = Field(description="Stable code, E800-E819 (bioner.errors.CODES).")
    message: str
    field: str | None = Field(None, description="The request field at fault, e.g. texts[3] or labels.")


class ErrorResponse(BaseModel):
    error: ErrorDetail


class ModelInfo(BaseModel):
    model_config = ConfigDict(extra="allow")  # engine-specific details (scheme, adapter, quantized)

    name: str
    engine: str
    default: bool = Field(description="Answers requests that name no model for this engine.")
    default_labels: dict[str, str]
    default_threshold: float | None


class ModelsResponse(BaseModel):
    models: list[ModelInfo]


class HealthResponse(BaseModel):
    status: str = Field(description="ok, or draining while shutting down (then with HTTP 503).")
    models: list[str]
    queue: dict[str, int]
    batches: dict[str, int | float]
