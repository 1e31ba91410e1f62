"""The version, in a module of its own so that any layer can read it without importing the
package root (whose lazy ``Agent`` would make an import circle)."""

__version__ = "0.1.0"
