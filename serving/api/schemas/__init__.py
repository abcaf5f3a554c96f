"""Request and response schemas, one module per resource, named by role (``PostPublic``…)."""
