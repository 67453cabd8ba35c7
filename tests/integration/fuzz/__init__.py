"""Generic HTTP harnesses driven by the services' OpenAPI documents (issue 13 items 1-2)."""
