"""jointist: multi-instrument transcription and separation (one MIDI track and one stem per instrument).

Heavy modules (torch, librosa) are imported by the submodules that need them, so importing the
package and asking a command for ``--help`` stays fast.
"""

__version__ = "0.1.0"
