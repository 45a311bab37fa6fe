"""ICE candidates between the wire (browser ``toJSON()`` shape) and aiortc, plus the test filter.

aiortc gathers its candidates inside ``setLocalDescription`` and puts them in the SDP;
browsers trickle theirs in ``signal`` frames. Both end up here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiortc import RTCIceCandidate
from aiortc.sdp import candidate_from_sdp, candidate_to_sdp

__all__ = ["IceFilter", "block_all", "candidate_from_wire", "candidate_to_wire", "filter_sdp"]

#: Given a candidate line (``candidate:…``), True keeps it. Applied to both directions.
IceFilter = Callable[[str], bool]

END_OF_CANDIDATES: dict[str, Any] = {"candidate": None}


def block_all(candidate: str) -> bool:
    """An `IceFilter` that keeps nothing: no pair can connect (for fallback tests)."""
    return False


def candidate_from_wire(obj: Any) -> RTCIceCandidate | None:
    """A trickled candidate as aiortc wants it; ``None`` is end-of-candidates.

    Accepts ``null``, ``""`` and ``{"candidate": ""}`` as end-of-candidates (browsers
    send all three). Raises ``ValueError`` for anything unparseable.
    """
    if obj is None or obj == "":
        return None
    if not isinstance(obj, dict):
        raise ValueError("candidate must be an object or null")
    line = obj.get("candidate")
    if not line:
        return None
    if not isinstance(line, str):
        raise ValueError("candidate.candidate must be a string")
    candidate = candidate_from_sdp(line.split(":", 1)[1] if line.startswith("candidate:")
                                   else line)
    candidate.sdpMid = obj.get("sdpMid")
    candidate.sdpMLineIndex = obj.get("sdpMLineIndex")
    if candidate.sdpMid is None and candidate.sdpMLineIndex is None:
        candidate.sdpMLineIndex = 0  # one bundled m-line: the data channels
    return candidate


def candidate_to_wire(candidate: RTCIceCandidate) -> dict[str, Any]:
    """An aiortc candidate in the browser's ``RTCIceCandidateInit`` shape."""
    return {"candidate": "candidate:" + candidate_to_sdp(candidate),
            "sdpMid": candidate.sdpMid, "sdpMLineIndex": candidate.sdpMLineIndex}


def filter_sdp(sdp: str, keep: IceFilter | None) -> str:
    """``sdp`` without the ``a=candidate:`` lines ``keep`` rejects (unchanged if no filter)."""
    if keep is None:
        return sdp
    lines = sdp.split("\r\n")
    kept = [ln for ln in lines
            if not (ln.startswith("a=candidate:") and not keep(ln[2:]))]
    return "\r\n".join(kept)
