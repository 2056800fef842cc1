"""jointist: multi-instrument transcription and separation (one MIDI track and one stem per instrument).

Heavy modules (torch, librosa) are imported by the submodules that need them, so importing the
package and asking a command for ``--help`` stays fast.
"""

__version__ = "0.1.0"

__all__ = ["Transcriber", "transcribe"]


def __getattr__(name: str):  # lazy: `jointist.transcribe(...)` without importing torch at package import
    if name in ("transcribe", "Transcriber"):
        from jointist import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module 'jointist' has no attribute {name!r}")
