"""canvas-reconcile: a declarative roster reconciler for Canvas LMS enrollments.

The public Python API is listed in ``__all__``; everything else is internal.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
