"""Office PBX APIs (outbound HTTP): click-to-call, call recordings."""
