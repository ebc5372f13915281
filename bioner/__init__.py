"""bioner: biomedical named entity recognition."""

from bioner.doc import Corpus, Document, Entity, Passage
from bioner.errors import BionerError, Report

__version__ = "0.1.0"
__all__ = ["BionerError", "Corpus", "Document", "Entity", "Passage", "Report", "__version__"]
