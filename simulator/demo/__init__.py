"""``yuqing demo``: the whole product run offline against the simulator, with its alert sections
and crisis tracking."""
