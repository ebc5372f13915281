"""Entity types: corpus type names, natural-language labels and one-sentence definitions.

Label-driven models (GLiNER prompts, LLM instructions, the selector) see the
natural-language ``label`` and ``description``; files and metrics keep the corpus
``name``. Users may pass their own labels anywhere a type is expected.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EntityType:
    name: str  # as written in the corpus files and in metrics ("Chemical")
    label: str  # natural-language name given to models ("chemical compound or drug")
    description: str  # one sentence a curator would accept as the annotation guideline's gist
    aliases: tuple[str, ...] = ()


_TYPES = [
    EntityType("Disease", "disease", "A disease, disorder, syndrome or other abnormal condition of an organism, e.g. breast cancer, Wilson disease or hepatotoxicity.", ("disorder", "SpecificDisease", "DiseaseClass", "Modifier", "CompositeMention")),
    EntityType("Chemical", "chemical compound or drug", "A chemical substance, drug or chemical class, e.g. cisplatin, dopamine or 2,3,7,8-tetrachlorodibenzo-p-dioxin.", ("chemical", "drug")),
    EntityType("GENE", "gene or gene product", "A gene, or the protein or RNA it encodes, e.g. BRCA1, tumor necrosis factor alpha or p53.", ("gene", "Gene", "protein or gene")),
    EntityType("protein", "protein", "A protein, protein family, complex or protein domain, e.g. IL-2, NF-kappa B or CD28.", ("Protein",)),
    EntityType("DNA", "DNA", "A DNA sequence, gene region, promoter, enhancer or other DNA domain, e.g. the IL-2 promoter.", ()),
    EntityType("RNA", "RNA", "An RNA molecule or transcript, e.g. IL-2 mRNA.", ()),
    EntityType("cell_line", "cell line", "A named, cultured cell line, e.g. Jurkat, HeLa or HL-60 cells.", ("cell line",)),
    EntityType("cell_type", "cell type", "A natural cell type, e.g. T lymphocytes, monocytes or erythroid cells.", ("cell type",)),
    EntityType("Species", "species", "The name of an organism, species or strain, including common names, e.g. human, mice or Escherichia coli.", ("species", "organism")),
    # CMeEE (Chinese clinical text); labels in English, descriptions bilingual for LLM prompts.
    EntityType("dis", "disease", "A disease or diagnosis (疾病), e.g. 肺炎 (pneumonia)."),
    EntityType("sym", "clinical symptom", "A clinical symptom or sign (临床表现), e.g. 发热 (fever)."),
    EntityType("dru", "drug", "A drug or medication (药物), e.g. 阿莫西林 (amoxicillin)."),
    EntityType("equ", "medical equipment", "A medical device or piece of equipment (医疗设备), e.g. 呼吸机 (ventilator)."),
    EntityType("pro", "medical procedure", "A medical procedure, therapy or operation (医疗程序), e.g. 手术 (surgery)."),
    EntityType("bod", "body part", "A body part, organ, tissue or body substance (身体), e.g. 肺 (lung)."),
    EntityType("ite", "medical test item", "A laboratory or examination item (医学检验项目), e.g. 血常规 (complete blood count)."),
    EntityType("mic", "microorganism", "A microorganism (微生物类), e.g. 肺炎链球菌 (Streptococcus pneumoniae)."),
    EntityType("dep", "hospital department", "A hospital department (科室), e.g. 儿科 (paediatrics)."),
]

TYPES: dict[str, EntityType] = {t.name: t for t in _TYPES}


def get_type(name: str) -> EntityType:
    """The registered type for a corpus type name; unknown names get a plain entry.

    Unknown names are legitimate (users name their own types): the label is the name
    with underscores as spaces, and there is no definition beyond it.
    """
    if name in TYPES:
        return TYPES[name]
    return EntityType(name, name.replace("_", " "), f"A mention of a {name.replace('_', ' ')}.")


def find_type(text: str) -> EntityType | None:
    """The registered type whose name, label or alias is ``text`` (case-insensitive), or None."""
    key = text.strip().lower()
    for t in _TYPES:
        if key in (t.name.lower(), t.label.lower(), *(a.lower() for a in t.aliases)):
            return t
    return None


def natural_label(name: str) -> str:
    return get_type(name).label


def describe(name: str) -> str:
    return get_type(name).description
