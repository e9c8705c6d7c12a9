"""cllcds: clinical decision support for alemtuzumab in relapsed and fludarabine-refractory CLL.

The package is layered (see ``docs/design.md``): ``domain`` (value objects), ``knowledge``
(shipped data with provenance), the computational core (``rules``, ``course``, ``evidence``,
``pk``, ``cohort``), ``services`` (use cases) and the adapters (``cli``, ``api``, ``web``,
``store``, ``fhir``).
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
