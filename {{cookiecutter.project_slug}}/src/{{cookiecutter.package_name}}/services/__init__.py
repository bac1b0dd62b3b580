"""Business logic: plain async functions over an AsyncSession, no FastAPI imports."""
