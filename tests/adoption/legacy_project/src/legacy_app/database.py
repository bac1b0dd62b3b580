from legacy_app.container import container


async def get_session():
    async with container.sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except Exception:
            await session.rollback()
            raise
