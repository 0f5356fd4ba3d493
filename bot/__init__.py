"""ipbot: cited answers to questions on Chinese regional intellectual-property policy.

>>> from bot import build_index, Retriever
>>> build_index("corpus", "index")
>>> Retriever.load("index").search("崂山专利质押贷款", k=3)
>>> Assistant(Retriever.load("index")).ask("烟台有多少个院士工作站").text
"""

from .answer import Answer, Assistant, Quote
from .build import BuildStats, build_index
from .config import Settings
from .corpus import CorpusError, Document
from .distributed import ClusterBuildError, build_index_on_ray
from .embedding import load_encoder
from .index import IndexUnavailable
from .library import Library
from .retrieval import Hit, Retriever

__all__ = [
    "Answer", "Assistant", "Quote", "BuildStats", "ClusterBuildError", "CorpusError", "Document", "Hit", "IndexUnavailable",
    "Library", "Retriever", "Settings", "build_index", "build_index_on_ray", "load_encoder",
]
__version__ = "0.1.0"
