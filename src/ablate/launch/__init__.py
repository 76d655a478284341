"""How an ``ablate`` command's process starts: a warm interpreter forks it, or it starts cold.

    protocol.py   the messages between a client and the warm server (JSON, passed fds)
    server.py     the warm server: imports torch and the table libraries once, then forks
                  one child per command (``python -m ablate.launch.server SOCKET``)
    client.py     ``run_warm``: hand this command to the server, relay signals, return its
                  exit code; start a server for the next command when none is running

Why: a study is many short processes. Each ``ablate train`` spent about 2 s importing
torch before its first step; forked from a server that has imported it, a command starts
in milliseconds. Each command is still a process of its own (a crash, an OOM kill or a
SIGKILL ends that command only; the run's flock and resume work as before) with the
caller's arguments, working directory, environment and standard streams.

Takes in: a module name and its arguments. Gives out: that module run as ``python -m``
would run it, and its exit code.

Imports from ablate: nothing (the server runs the requested module by name).
Torch: only in server (it imports torch by name when it starts; importing it loads none).
"""
