"""HTTP routers; each module owns one resource."""
