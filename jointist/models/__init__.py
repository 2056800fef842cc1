"""Plain ``nn.Module`` models: tensors in, tensors out; no Lightning, Hydra or OmegaConf.

Importing this package registers every built-in model class (see :mod:`jointist.models.base`).
"""

from jointist.models.base import MODEL_REGISTRY, ROLES, JointistModel, ModelCard, TranscriberOutput
from jointist.models.note_ends import NoteEnder
from jointist.models.pitchwise import PitchwiseTranscriber
from jointist.models.recognizer import InstrumentRecognizer
from jointist.models.separator import FiLMUNetSeparator
from jointist.models.seq2seq import Seq2SeqTranscriber
from jointist.models.transcriber import OnsetsFramesTranscriber
from jointist.models.verifier import NoteVerifier

__all__ = [
    "MODEL_REGISTRY",
    "ROLES",
    "FiLMUNetSeparator",
    "InstrumentRecognizer",
    "JointistModel",
    "ModelCard",
    "NoteEnder",
    "NoteVerifier",
    "OnsetsFramesTranscriber",
    "PitchwiseTranscriber",
    "Seq2SeqTranscriber",
    "TranscriberOutput",
]
