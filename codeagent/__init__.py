"""codeagent: a self-improvement environment for software agents.

Data flows one way: tasks -> run -> verify -> export -> train -> improve.
"""

__version__ = "0.1.0"
