"""What every quotepipe process needs to run as a process: cores, its tie to the
supervisor, and the one skeleton that md, the workers, the venue and the
scoreboard are built on (``runtime.child``)."""
